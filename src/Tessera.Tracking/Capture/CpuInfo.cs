namespace Tessera.Tracking.Capture;

/// <summary>Reads the CPU model and the ISA flags that matter for numerics and speed from Linux's <c>/proc/cpuinfo</c>.</summary>
public static class CpuInfo
{
    /// <summary>The flags kept: vector widths and the int8/bf16/fp16 instructions kernels choose between.</summary>
    public static IReadOnlySet<string> RelevantFlags { get; } = new HashSet<string>(StringComparer.Ordinal)
    {
        "sse4_1", "sse4_2", "avx", "avx2", "fma", "f16c",
        "avx512f", "avx512bw", "avx512cd", "avx512dq", "avx512vl", "avx512_vnni", "avx512_bf16", "avx512_fp16", "avx512vbmi",
        "avx_vnni", "amx_bf16", "amx_int8", "amx_tile",
        "asimd", "sve", "sve2", "bf16", "i8mm", "asimddp", // arm64 spellings
    };

    /// <summary>
    /// Parses <paramref name="cpuinfo"/> (the text of <c>/proc/cpuinfo</c>): the first processor's model name and its
    /// flags that are in <see cref="RelevantFlags"/>, sorted.
    /// </summary>
    public static (string? Model, IReadOnlyList<string> Flags) Parse(string cpuinfo)
    {
        string? model = null;
        IReadOnlyList<string> flags = [];
        foreach (string line in cpuinfo.Split('\n'))
        {
            int colon = line.IndexOf(':');
            if (colon < 0) continue;
            string key = line[..colon].Trim();
            string value = line[(colon + 1)..].Trim();
            if (model is null && key is "model name" or "Model" or "cpu model") model = value;
            else if (flags.Count == 0 && key is "flags" or "Features")
                flags = [.. value.Split(' ', StringSplitOptions.RemoveEmptyEntries).Where(RelevantFlags.Contains).Distinct().Order(StringComparer.Ordinal)];
        }
        return (model, flags);
    }
}
