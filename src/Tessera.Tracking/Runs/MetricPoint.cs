namespace Tessera.Tracking.Runs;

/// <summary>One logged value of a metric.</summary>
/// <param name="Key">The metric name.</param>
/// <param name="Step">The global step it belongs to.</param>
/// <param name="Value">The value.</param>
/// <param name="Timestamp">When it was logged.</param>
public readonly record struct MetricPoint(string Key, long Step, double Value, DateTimeOffset Timestamp);
