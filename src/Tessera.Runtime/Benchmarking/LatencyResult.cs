namespace Tessera.Runtime.Benchmarking;

/// <summary>Latency statistics of one benchmarked action, in milliseconds per call.</summary>
/// <param name="Batch">Items processed per call (the batch size).</param>
/// <param name="Iterations">Timed calls (warm-up calls excluded).</param>
/// <param name="MeanMs">Mean latency per call.</param>
/// <param name="P50Ms">Median latency.</param>
/// <param name="P95Ms">95th percentile latency.</param>
/// <param name="P99Ms">99th percentile latency.</param>
/// <param name="MinMs">Fastest call.</param>
/// <param name="MaxMs">Slowest call.</param>
/// <param name="ItemsPerSecond">Throughput: <c>Batch * Iterations</c> divided by the summed time of the timed calls.</param>
public sealed record LatencyResult(int Batch, int Iterations, double MeanMs, double P50Ms, double P95Ms, double P99Ms,
    double MinMs, double MaxMs, double ItemsPerSecond);
