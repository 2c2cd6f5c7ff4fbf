namespace Tessera.LoadTest;

/// <summary>
/// Percentiles of a set of latencies in milliseconds, by the nearest-rank rule: the p-th percentile of n sorted
/// values is the value at rank ceil(p/100 · n), so it is always one of the measured values.
/// </summary>
/// <param name="Count">How many values.</param>
/// <param name="MeanMs">Their mean.</param>
/// <param name="P50Ms">Median.</param>
/// <param name="P95Ms">95th percentile.</param>
/// <param name="P99Ms">99th percentile.</param>
/// <param name="MaxMs">Largest.</param>
public sealed record LatencySummary(int Count, double MeanMs, double P50Ms, double P95Ms, double P99Ms, double MaxMs)
{
    /// <summary>The summary of <paramref name="seconds"/> (converted to milliseconds), or null when there are none.</summary>
    public static LatencySummary? Of(IEnumerable<double> seconds)
    {
        double[] ms = [.. seconds.Select(s => s * 1000)];
        if (ms.Length == 0) return null;
        Array.Sort(ms);
        return new LatencySummary(ms.Length, ms.Average(), Percentile(ms, 50), Percentile(ms, 95), Percentile(ms, 99), ms[^1]);
    }

    /// <summary>The nearest-rank <paramref name="p"/>-th percentile of ascending <paramref name="sorted"/>.</summary>
    /// <exception cref="ArgumentException"><paramref name="sorted"/> is empty or <paramref name="p"/> is outside (0, 100].</exception>
    public static double Percentile(IReadOnlyList<double> sorted, double p)
    {
        if (sorted.Count == 0) throw new ArgumentException("no values", nameof(sorted));
        if (!(p > 0 && p <= 100)) throw new ArgumentException($"the percentile must be in (0, 100] (got {p})", nameof(p));
        int rank = (int)Math.Ceiling(p / 100 * sorted.Count);
        return sorted[Math.Clamp(rank, 1, sorted.Count) - 1];
    }
}
