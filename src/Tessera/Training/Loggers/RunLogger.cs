using System.Globalization;
using Tessera.Tracking.Runs;

namespace Tessera.Training.Loggers;

/// <summary>
/// Records a training run in the runs store (<see cref="RunStore"/>): hyperparameters as parameters, metrics with
/// their steps. <c>Loggers = [RunLogger.Start("mnist")]</c> is all a training script needs; <c>tessera runs list</c>
/// then shows the run.
/// </summary>
public sealed class RunLogger : IMetricsLogger
{
    readonly RunStore? ownedStore;
    readonly bool ownsRun;

    /// <summary>Logs into <paramref name="run"/>, which the caller ends (disposing the logger does not end it).</summary>
    public RunLogger(TrackedRun run)
    {
        Run = run;
    }

    RunLogger(RunStore store, TrackedRun run)
    {
        ownedStore = store;
        Run = run;
        ownsRun = true;
    }

    /// <summary>
    /// Opens the store (<paramref name="trackingUri"/>, else TESSERA_TRACKING_URI, else <c>tessera-runs/runs.db</c>)
    /// and starts a run in <paramref name="experiment"/>; disposing the logger ends the run as finished.
    /// </summary>
    public static RunLogger Start(string experiment = "Default", string? name = null, string? trackingUri = null)
    {
        var store = RunStore.Open(trackingUri);
        try
        {
            return new RunLogger(store, store.StartRun(new RunStartOptions { Experiment = experiment, Name = name }));
        }
        catch
        {
            store.Dispose();
            throw;
        }
    }

    /// <summary>The run being recorded.</summary>
    public TrackedRun Run { get; }

    /// <inheritdoc />
    public void LogHyperparameters(IReadOnlyDictionary<string, object?> hyperparameters)
    {
        foreach (var (key, value) in hyperparameters) Run.LogParam(key, Convert.ToString(value, CultureInfo.InvariantCulture) ?? "");
    }

    /// <inheritdoc />
    public void LogMetrics(IReadOnlyDictionary<string, double> metrics, long step) => Run.LogMetrics(metrics, step);

    /// <inheritdoc />
    public void Flush() => Run.Flush();

    /// <inheritdoc />
    public void OnResume(long step) => Run.DeleteMetricsAfter(step);

    /// <summary>Flushes; a run this logger started is ended as finished.</summary>
    public void Dispose()
    {
        if (ownsRun) Run.End();
        else Run.Flush();
        ownedStore?.Dispose();
    }
}
