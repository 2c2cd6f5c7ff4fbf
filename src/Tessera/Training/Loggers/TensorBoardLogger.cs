using System.Globalization;
using System.Text;
using Tessera.Tracking.TensorBoard;

namespace Tessera.Training.Loggers;

/// <summary>
/// Writes metrics as TensorBoard scalars (an events.out.tfevents file in the log folder); hyperparameters as a text
/// summary, and on <see cref="Dispose"/> hyperparameters with the logged metric tags as the HParams plugin's
/// experiment, session start and session end summaries (TensorBoard's HParams tab).
/// </summary>
public sealed class TensorBoardLogger : IMetricsLogger
{
    private readonly TensorBoardWriter writer;
    private readonly DateTimeOffset started = DateTimeOffset.UtcNow;
    private readonly Dictionary<string, object?> hparams = new(StringComparer.Ordinal);
    private readonly List<string> metricTags = [];
    private long lastStep;

    /// <summary>Creates the logger writing into <paramref name="logDir"/>.</summary>
    public TensorBoardLogger(string logDir) => writer = new TensorBoardWriter(logDir);

    /// <summary>The event file being written.</summary>
    public string FilePath => writer.FilePath;

    /// <inheritdoc />
    public void LogHyperparameters(IReadOnlyDictionary<string, object?> hyperparameters)
    {
        if (hyperparameters.Count == 0) return;
        lock (hparams) foreach (var (k, v) in hyperparameters) hparams[k] = v;
        var table = new StringBuilder("| name | value |\n|---|---|\n");
        foreach (var (k, v) in hyperparameters) table.Append(CultureInfo.InvariantCulture, $"| {k} | {v} |\n");
        writer.AddText("hparams", table.ToString(), 0);
    }

    /// <inheritdoc />
    public void LogMetrics(IReadOnlyDictionary<string, double> metrics, long step)
    {
        foreach (var (k, v) in metrics) writer.AddScalar(k, (float)v, step);
        lock (hparams)
        {
            foreach (string k in metrics.Keys) if (!metricTags.Contains(k)) metricTags.Add(k);
            lastStep = Math.Max(lastStep, step);
        }
    }

    /// <inheritdoc />
    public void Flush() => writer.Flush();

    /// <inheritdoc />
    public void Dispose()
    {
        try
        {
            lock (hparams)
            {
                if (hparams.Count > 0 || metricTags.Count > 0)
                {
                    writer.AddHParams(hparams, metricTags, started);
                    writer.AddHParamsSessionEnd(succeeded: true, step: lastStep);
                }
            }
        }
        catch (ObjectDisposedException) { } // disposed twice: the summaries were written the first time
        writer.Dispose();
    }
}
