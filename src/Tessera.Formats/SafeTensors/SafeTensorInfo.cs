namespace Tessera.Formats.SafeTensors;

/// <summary>One tensor described by a safetensors header.</summary>
/// <param name="Name">The tensor's key in the header.</param>
/// <param name="DType">Element type.</param>
/// <param name="Shape">Dimensions; empty for a scalar.</param>
/// <param name="DataOffset">Start of the tensor's bytes, relative to the start of the data section.</param>
/// <param name="ByteLength">Number of bytes: product of <paramref name="Shape"/> times the element size.</param>
public sealed record SafeTensorInfo(string Name, SafeTensorDType DType, long[] Shape, long DataOffset, long ByteLength)
{
    /// <summary>Number of elements (1 for a scalar, 0 when a dimension is 0).</summary>
    public long ElementCount => ByteLength / DType.ElementSize();
}
