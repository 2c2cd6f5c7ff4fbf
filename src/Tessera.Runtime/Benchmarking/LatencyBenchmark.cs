using System.Diagnostics;

namespace Tessera.Runtime.Benchmarking;

/// <summary>
/// Times an action: <see cref="Warmup"/> untimed calls, then <see cref="Iterations"/> timed calls, and reports
/// p50/p95/p99 latency and throughput. Percentiles use linear interpolation between the two nearest ranks
/// (the default of NumPy's <c>percentile</c>, Hyndman and Fan's type 7): for sorted times <c>x[0..n-1]</c>,
/// <c>h = (n - 1) * p / 100</c> and the result is <c>x[floor h] + (h - floor h) * (x[floor h + 1] - x[floor h])</c>.
/// </summary>
public sealed class LatencyBenchmark
{
    /// <summary>Untimed calls before measuring (JIT, caches, thread pools). Default 10.</summary>
    public int Warmup { get; init; } = 10;

    /// <summary>Timed calls. Default 100.</summary>
    public int Iterations { get; init; } = 100;

    /// <summary>Times <paramref name="action"/>, which processes <paramref name="batch"/> items per call.</summary>
    /// <exception cref="ArgumentOutOfRangeException">Iterations is not positive, warm-up is negative or batch is not positive.</exception>
    public LatencyResult Measure(Action action, int batch = 1)
    {
        ArgumentNullException.ThrowIfNull(action);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(batch);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(Iterations);
        ArgumentOutOfRangeException.ThrowIfNegative(Warmup);
        for (int i = 0; i < Warmup; i++) action();
        var millis = new double[Iterations];
        for (int i = 0; i < Iterations; i++)
        {
            long start = Stopwatch.GetTimestamp();
            action();
            millis[i] = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
        }
        return Summarize(millis, batch);
    }

    /// <summary>
    /// Times one action per batch size: <paramref name="forBatch"/> builds the action for a batch (allocating its
    /// inputs outside the timed region), which is then measured like <see cref="Measure(Action, int)"/>.
    /// </summary>
    public IReadOnlyList<LatencyResult> Measure(Func<int, Action> forBatch, IEnumerable<int> batchSizes)
    {
        ArgumentNullException.ThrowIfNull(forBatch);
        ArgumentNullException.ThrowIfNull(batchSizes);
        return batchSizes.Select(b => Measure(forBatch(b), b)).ToArray();
    }

    /// <summary>Statistics of measured per-call times (milliseconds, any order) for calls of <paramref name="batch"/> items.</summary>
    /// <exception cref="ArgumentException">No times, or a negative or non-finite time.</exception>
    public static LatencyResult Summarize(IReadOnlyList<double> millis, int batch)
    {
        ArgumentNullException.ThrowIfNull(millis);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(batch);
        if (millis.Count == 0) throw new ArgumentException("No timings to summarize.", nameof(millis));
        if (millis.Any(m => m < 0 || !double.IsFinite(m))) throw new ArgumentException("Timings must be finite and non-negative.", nameof(millis));
        var sorted = millis.Order().ToArray();
        double total = sorted.Sum();
        return new LatencyResult(batch, sorted.Length, total / sorted.Length,
            Percentile(sorted, 50), Percentile(sorted, 95), Percentile(sorted, 99), sorted[0], sorted[^1],
            total > 0 ? batch * sorted.Length / (total / 1000) : double.PositiveInfinity);
    }

    /// <summary>The <paramref name="percent"/>-th percentile of ascending <paramref name="sorted"/> values by linear interpolation (NumPy's default).</summary>
    /// <exception cref="ArgumentException">No values, or <paramref name="percent"/> outside 0..100.</exception>
    public static double Percentile(IReadOnlyList<double> sorted, double percent)
    {
        ArgumentNullException.ThrowIfNull(sorted);
        if (sorted.Count == 0) throw new ArgumentException("No values.", nameof(sorted));
        if (!(percent >= 0 && percent <= 100)) throw new ArgumentOutOfRangeException(nameof(percent), percent, "Percent must be within 0..100.");
        double h = (sorted.Count - 1) * percent / 100;
        int lo = (int)Math.Floor(h);
        int hi = Math.Min(lo + 1, sorted.Count - 1);
        return sorted[lo] + (h - lo) * (sorted[hi] - sorted[lo]);
    }
}
