namespace Tessera.Formats.SafeTensors;

/// <summary>A tensor to write with <see cref="SafeTensorsWriter"/>.</summary>
/// <param name="Name">Key in the header; must be unique and must not be <c>__metadata__</c>.</param>
/// <param name="DType">Element type.</param>
/// <param name="Shape">Dimensions (non-negative); empty for a scalar.</param>
/// <param name="WriteData">Writes exactly product(shape) * element size bytes, little-endian, row-major.</param>
public sealed record SafeTensorEntry(string Name, SafeTensorDType DType, long[] Shape, Action<Stream> WriteData)
{
    /// <summary>An entry whose bytes are already in memory.</summary>
    public SafeTensorEntry(string name, SafeTensorDType dtype, long[] shape, ReadOnlyMemory<byte> data)
        : this(name, dtype, shape, s => s.Write(data.Span)) { }
}
