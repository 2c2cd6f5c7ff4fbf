using System.Diagnostics;
using Tessera.Training;
using Tessera.Tracking.Runs;

namespace Tessera.Cli;

/// <summary>
/// Sends the metrics of every trainer a tracked command runs into its run as they are logged (attached through
/// <see cref="AmbientLoggers"/> for the command's duration), so <c>tessera ui</c> shows a running training live.
/// Points are buffered by the run and written in batches: at least every <see cref="FlushInterval"/> while metrics
/// arrive, and whenever the trainer flushes. When the run also goes to an MLflow server, the same points are handed to
/// its <see cref="CliMlflow.Live"/> logger, which sends them in the background. Hyperparameters are not recorded here:
/// the command's options already are the run's parameters.
/// </summary>
sealed class CliLiveMetrics(TrackedRun run, TimeSpan? flushInterval = null, Training.Loggers.MlflowLogger? mlflow = null) : IMetricsLogger
{
    /// <summary>Longest time logged points wait in the buffer while metrics keep arriving (unless told otherwise).</summary>
    internal static readonly TimeSpan FlushInterval = TimeSpan.FromSeconds(2);

    readonly TimeSpan interval = flushInterval ?? FlushInterval;

    readonly Lock gate = new();
    long lastFlush = Stopwatch.GetTimestamp();

    public void LogHyperparameters(IReadOnlyDictionary<string, object?> hyperparameters) { }

    public void LogMetrics(IReadOnlyDictionary<string, double> metrics, long step)
    {
        mlflow?.LogMetrics(metrics, step); // only hands the points over: the MLflow logger sends in the background
        run.LogMetrics(metrics, step);
        lock (gate)
        {
            if (Stopwatch.GetElapsedTime(lastFlush) < interval) return;
            lastFlush = Stopwatch.GetTimestamp();
        }
        run.Flush();
    }

    public void Flush()
    {
        mlflow?.Flush();
        run.Flush();
    }

    public void Dispose() => Flush(); // the MLflow logger is CliMlflow's to dispose
}
