using System.Globalization;

namespace Tessera.Export;

/// <summary>
/// One dimension of an ONNX input or output shape: a fixed size (<c>3</c>) or a symbolic name (<c>"batch"</c>)
/// that the runtime binds per call. Converts implicitly from <see cref="long"/> and <see cref="string"/>.
/// </summary>
/// <param name="Value">The fixed size, or null for a symbolic dimension.</param>
/// <param name="Symbol">The symbolic name, or null for a fixed dimension.</param>
public readonly record struct OnnxDimension(long? Value, string? Symbol)
{
    /// <summary>A fixed dimension.</summary>
    public static implicit operator OnnxDimension(long value) => new(value, null);

    /// <summary>A symbolic dimension such as <c>"batch"</c>.</summary>
    public static implicit operator OnnxDimension(string symbol) => new(null, symbol);

    /// <summary>True when the dimension is a name rather than a number.</summary>
    public bool IsSymbolic => Symbol is not null;

    /// <inheritdoc/>
    public override string ToString() => Symbol ?? Value?.ToString(CultureInfo.InvariantCulture) ?? "?";
}
