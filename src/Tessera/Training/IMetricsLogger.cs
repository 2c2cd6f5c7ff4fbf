namespace Tessera.Training;

/// <summary>Receives metrics and hyperparameters during a run (CSV, TensorBoard, ...).</summary>
public interface IMetricsLogger : IDisposable
{
    /// <summary>Records hyperparameters once, before training.</summary>
    void LogHyperparameters(IReadOnlyDictionary<string, object?> hyperparameters);

    /// <summary>Records <paramref name="metrics"/> at global step <paramref name="step"/>.</summary>
    void LogMetrics(IReadOnlyDictionary<string, double> metrics, long step);

    /// <summary>Writes anything buffered.</summary>
    void Flush();
}
