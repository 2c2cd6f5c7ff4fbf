using System.Globalization;
using System.Text;
using Tessera.Tracking.TensorBoard;

namespace Tessera.Training.Loggers;

/// <summary>Writes metrics as TensorBoard scalars (an events.out.tfevents file in the log folder); hyperparameters as a text summary.</summary>
public sealed class TensorBoardLogger : IMetricsLogger
{
    private readonly TensorBoardWriter writer;

    /// <summary>Creates the logger writing into <paramref name="logDir"/>.</summary>
    public TensorBoardLogger(string logDir) => writer = new TensorBoardWriter(logDir);

    /// <summary>The event file being written.</summary>
    public string FilePath => writer.FilePath;

    /// <inheritdoc />
    public void LogHyperparameters(IReadOnlyDictionary<string, object?> hyperparameters)
    {
        if (hyperparameters.Count == 0) return;
        var table = new StringBuilder("| name | value |\n|---|---|\n");
        foreach (var (k, v) in hyperparameters) table.Append(CultureInfo.InvariantCulture, $"| {k} | {v} |\n");
        writer.AddText("hparams", table.ToString(), 0);
    }

    /// <inheritdoc />
    public void LogMetrics(IReadOnlyDictionary<string, double> metrics, long step)
    {
        foreach (var (k, v) in metrics) writer.AddScalar(k, (float)v, step);
    }

    /// <inheritdoc />
    public void Flush() => writer.Flush();

    /// <inheritdoc />
    public void Dispose() => writer.Dispose();
}
