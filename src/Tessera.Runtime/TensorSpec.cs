namespace Tessera.Runtime;

/// <summary>
/// One input or output of an ONNX model: its name, element type and shape. A dynamic dimension is -1 in
/// <see cref="Dims"/> and has its symbolic name (for example <c>batch</c>) in <see cref="DimNames"/> when the graph gives one.
/// </summary>
/// <param name="Name">The graph input or output name.</param>
/// <param name="DataType">The element type, or <see cref="TensorDataType.Other"/> for types <see cref="NamedTensor"/> does not carry.</param>
/// <param name="TypeName">The ONNX element type name (<c>float</c>, <c>int64</c>, <c>float16</c>, ...).</param>
/// <param name="Dims">The dimensions; -1 where the size is decided at run time.</param>
/// <param name="DimNames">The symbolic name of each dimension, or null where it has none (fixed, or dynamic and unnamed).</param>
public sealed record TensorSpec(string Name, TensorDataType DataType, string TypeName, IReadOnlyList<long> Dims, IReadOnlyList<string?> DimNames)
{
    /// <summary>The number of dimensions.</summary>
    public int Rank => Dims.Count;

    /// <summary>Whether dimension <paramref name="axis"/> is decided at run time.</summary>
    public bool IsDynamic(int axis) => Dims[axis] < 0;

    /// <summary>The shape as text, for example <c>float[batch,1,28,28]</c>.</summary>
    public string ShapeText => $"{TypeName}[{string.Join(",", Dims.Select((d, i) => d >= 0 ? d.ToString() : DimNames[i] ?? "?"))}]";

    /// <summary>The spec as text, for example <c>pixels: float[batch,1,28,28]</c>.</summary>
    public override string ToString() => $"{Name}: {ShapeText}";
}
