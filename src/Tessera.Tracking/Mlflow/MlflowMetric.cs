namespace Tessera.Tracking.Mlflow;

/// <summary>One metric point as MLflow's REST API takes it (<c>Metric</c> in runs/log-batch).</summary>
/// <param name="Key">The metric name.</param>
/// <param name="Value">The value (NaN and infinities are sent as MLflow's JSON names for them).</param>
/// <param name="Timestamp">Unix time in milliseconds.</param>
/// <param name="Step">The step.</param>
public readonly record struct MlflowMetric(string Key, double Value, long Timestamp, long Step);
