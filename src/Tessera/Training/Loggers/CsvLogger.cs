using System.Globalization;
using Tessera.Formats;
using Tessera.Tracking.Csv;

namespace Tessera.Training.Loggers;

/// <summary>Writes metrics to a CSV file (one row per logging call, a column per metric) and hyperparameters to <c>hparams.json</c> beside it.</summary>
public sealed class CsvLogger : IMetricsLogger
{
    private readonly CsvMetricsWriter writer;

    /// <summary>Creates the logger; unless <paramref name="append"/> (a resumed run), an existing file is replaced.</summary>
    public CsvLogger(string path, bool append = false)
    {
        if (!append && File.Exists(path)) File.Delete(path);
        writer = new CsvMetricsWriter(path);
    }

    /// <summary>The CSV file.</summary>
    public string FilePath => writer.FilePath;

    /// <inheritdoc />
    public void LogHyperparameters(IReadOnlyDictionary<string, object?> hyperparameters)
    {
        var text = System.Text.Json.JsonSerializer.Serialize(hyperparameters.ToDictionary(kv => kv.Key, kv => Convert.ToString(kv.Value, CultureInfo.InvariantCulture)),
            new System.Text.Json.JsonSerializerOptions { WriteIndented = true });
        AtomicFile.WriteAllText(Path.Combine(Path.GetDirectoryName(FilePath)!, "hparams.json"), text + "\n");
    }

    /// <inheritdoc />
    public void LogMetrics(IReadOnlyDictionary<string, double> metrics, long step) => writer.Append(step, metrics);

    /// <inheritdoc />
    public void Flush() { }

    /// <inheritdoc />
    public void OnResume(long step) => writer.RemoveRowsAfter(step);

    /// <inheritdoc />
    public void Dispose() { }
}
