using System.Globalization;
using System.Text.RegularExpressions;
using Tessera.Formats;
using Tessera.Formats.SafeTensors;

namespace Tessera.Models;

/// <summary>
/// Checks what a config would allocate before anything is allocated: against the checkpoint's header when there is one
/// (field by field with <see cref="WeightDimension"/>s, then the total), and against the machine's memory otherwise.
/// </summary>
internal static class ConfigSizeCheck
{
    /// <summary>Parameters a model may have beyond its checkpoint's values (a fresh classification head, tied copies counted twice).</summary>
    const double HeadAllowance = 16_000_000;

    /// <exception cref="TesseraFormatException">A dimension differs, the config has more layers than the file (unless missing keys are allowed), or the config describes far more parameters than the checkpoint holds.</exception>
    public static void AgainstCheckpoint(string configPath, IReadOnlyDictionary<string, (string File, SafeTensorInfo Info)> index,
        IEnumerable<WeightDimension> dimensions, double parameters, bool allowMissingKeys)
    {
        foreach (WeightDimension d in dimensions)
        {
            if (d.Axis == WeightDimension.LayerCount)
            {
                // More layers in the file than in the config is the unused-tensor error of the loader (or allowed by the options).
                if (!allowMissingKeys) CheckLayers(configPath, index, d);
            }
            else CheckTensor(configPath, index, d);
        }
        long total = 0;
        string weights = PretrainedModels.WeightsFile;
        foreach (var (file, info) in index.Values)
        {
            total += info.Shape.Aggregate(1L, (a, b) => a * b); // bounded by the file sizes the reader checked
            weights = Path.GetFileName(file);
        }
        if (parameters > 2 * (double)total + HeadAllowance)
            throw new TesseraFormatException(configPath,
                $"describes a model of {Count(parameters)} parameters but {weights} holds {Count(total)} values (does config.json belong to these weights?)");
    }

    /// <exception cref="TesseraFormatException">The model the config describes would not fit in this machine's memory as float32.</exception>
    public static void AgainstMemory(string? configPath, double parameters)
    {
        double available = GC.GetGCMemoryInfo().TotalAvailableMemoryBytes;
        if (available <= 0 || parameters * sizeof(float) <= available) return;
        throw new TesseraFormatException(configPath ?? "config",
            $"describes a model of {Count(parameters)} parameters ({Gigabytes(parameters * sizeof(float))} as float32), more than the {Gigabytes(available)} of memory available");
    }

    static void CheckTensor(string configPath, IReadOnlyDictionary<string, (string File, SafeTensorInfo Info)> index, WeightDimension d)
    {
        foreach (var (name, (file, info)) in index)
        {
            if (!(name == d.Tensor || name.EndsWith("." + d.Tensor, StringComparison.Ordinal))) continue;
            if (d.Axis >= info.Shape.Length)
                throw Mismatch(configPath, d, file, $"{name} is [{string.Join(", ", info.Shape)}], without a dimension {d.Axis}");
            if (info.Shape[d.Axis] != d.Size)
            {
                long[] wanted = (long[])info.Shape.Clone();
                wanted[d.Axis] = d.Size;
                throw Mismatch(configPath, d, file, $"{name} is [{string.Join(", ", info.Shape)}], not [{string.Join(", ", wanted)}]");
            }
            return;
        }
    }

    static void CheckLayers(string configPath, IReadOnlyDictionary<string, (string File, SafeTensorInfo Info)> index, WeightDimension d)
    {
        var layer = new Regex(@"(?:^|\.)" + Regex.Escape(d.Tensor) + @"\.(\d{1,9})\.", RegexOptions.CultureInvariant, TimeSpan.FromSeconds(1));
        long count = 0;
        string? file = null;
        foreach (var (name, (f, _)) in index)
        {
            Match m = layer.Match(name);
            if (!m.Success) continue;
            count = Math.Max(count, long.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture) + 1);
            file = f;
        }
        if (file is not null && count < d.Size)
            throw Mismatch(configPath, d, file, $"it has {count} layer(s), {d.Tensor}.0 to {d.Tensor}.{count - 1}");
    }

    static TesseraFormatException Mismatch(string configPath, WeightDimension d, string file, string detail) =>
        new(configPath, $"{d.Field} {d.Value} does not match {Path.GetFileName(file)} ({detail})");

    static string Count(double n) => n.ToString(n < 1e12 ? "N0" : "0.###e0", CultureInfo.InvariantCulture);

    static string Gigabytes(double bytes) => (bytes / (1L << 30)).ToString(bytes < (1L << 40) ? "0.#" : "0.###e0", CultureInfo.InvariantCulture) + " GB";
}
