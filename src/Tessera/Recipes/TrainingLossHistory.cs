using Tessera.Tracking.Csv;

namespace Tessera.Recipes;

/// <summary>
/// The training loss of a whole run, read from its <c>metrics.csv</c>: the CSV holds every logged step across
/// <c>--resume</c> (a resumed run appends, after dropping what the killed process logged past its checkpoint), while
/// a callback only sees the steps of the current process. Model cards summarize the run from here.
/// </summary>
internal sealed class TrainingLossHistory
{
    TrainingLossHistory(IReadOnlyList<(long Step, double Loss)> points) => Points = points;

    /// <summary>(step, loss) of each logged row with a loss, by step; a step logged twice keeps its last value.</summary>
    public IReadOnlyList<(long Step, double Loss)> Points { get; }

    /// <summary>Mean loss of the first 5% of the points (at least one); NaN when there are none.</summary>
    public double FirstLoss => Points.Count == 0 ? double.NaN : Points.Take(Math.Max(1, Points.Count / 20)).Average(p => p.Loss);

    /// <summary>Mean loss of the last 10% of the points (at least one); NaN when there are none.</summary>
    public double FinalLoss => Points.Count == 0 ? double.NaN : Points.TakeLast(Math.Max(1, Points.Count / 10)).Average(p => p.Loss);

    /// <summary>The <paramref name="column"/> values of <paramref name="metricsCsv"/>; empty when the file does not exist.</summary>
    /// <exception cref="Formats.TesseraFormatException">The file is not a metrics CSV (no <c>step</c> column, a cell that is not a number).</exception>
    public static TrainingLossHistory Read(string metricsCsv, string column = "train_loss")
    {
        var byStep = new SortedDictionary<long, double>();
        if (File.Exists(metricsCsv))
            foreach (var (step, metrics) in CsvMetricsReader.Read(metricsCsv))
                if (metrics.TryGetValue(column, out double loss)) byStep[step] = loss;
        return new TrainingLossHistory(byStep.Select(kv => (kv.Key, kv.Value)).ToList());
    }
}
