namespace Tessera.Formats.SafeTensors;

/// <summary>Element sizes and header names of <see cref="SafeTensorDType"/>.</summary>
public static class SafeTensorDTypes
{
    /// <summary>Bytes per element of <paramref name="dtype"/>.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The value is not a defined dtype.</exception>
    public static int ElementSize(this SafeTensorDType dtype) => dtype switch
    {
        SafeTensorDType.BOOL or SafeTensorDType.U8 or SafeTensorDType.I8 => 1,
        SafeTensorDType.I16 or SafeTensorDType.U16 or SafeTensorDType.F16 or SafeTensorDType.BF16 => 2,
        SafeTensorDType.I32 or SafeTensorDType.U32 or SafeTensorDType.F32 => 4,
        SafeTensorDType.I64 or SafeTensorDType.U64 or SafeTensorDType.F64 => 8,
        _ => throw new ArgumentOutOfRangeException(nameof(dtype), dtype, "not a safetensors dtype"),
    };

    /// <summary>The string the safetensors header uses for <paramref name="dtype"/>, e.g. <c>"BF16"</c>.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The value is not a defined dtype.</exception>
    public static string HeaderName(this SafeTensorDType dtype) =>
        Enum.IsDefined(dtype) ? dtype.ToString() : throw new ArgumentOutOfRangeException(nameof(dtype), dtype, "not a safetensors dtype");

    /// <summary>Parses a header dtype string (case-sensitive, as the format requires).</summary>
    /// <returns><c>false</c> when <paramref name="name"/> is not a dtype this reader supports.</returns>
    public static bool TryParse(string name, out SafeTensorDType dtype)
    {
        foreach (SafeTensorDType candidate in Enum.GetValues<SafeTensorDType>())
        {
            if (string.Equals(candidate.ToString(), name, StringComparison.Ordinal))
            {
                dtype = candidate;
                return true;
            }
        }
        dtype = default;
        return false;
    }

    /// <summary>The header strings this reader supports, in enum order.</summary>
    public static IReadOnlyList<string> SupportedNames { get; } = Enum.GetNames<SafeTensorDType>();
}
