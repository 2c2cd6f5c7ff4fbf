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

    /// <summary>
    /// Called when a run resumes from a checkpoint taken at global step <paramref name="step"/>, before anything new is
    /// logged: a logger that appends to an earlier run's files drops what it recorded after that step, so the resumed
    /// steps are not recorded twice. The default does nothing.
    /// </summary>
    void OnResume(long step) { }
}
