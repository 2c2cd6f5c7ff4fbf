using System.Globalization;
using Tessera.Formats;

namespace Tessera.Tracking.Csv;

/// <summary>Reads back what <see cref="CsvMetricsWriter"/> wrote: one (step, metrics) pair per row, empty cells left out.</summary>
public static class CsvMetricsReader
{
    /// <summary>The rows of the CSV file at <paramref name="path"/>.</summary>
    /// <exception cref="TesseraFormatException">The header does not start with <c>step</c>, or a cell is not a number.</exception>
    public static IEnumerable<(long Step, IReadOnlyDictionary<string, double> Metrics)> Read(string path)
    {
        using var reader = new StreamReader(path);
        string? header = reader.ReadLine();
        if (header is null) yield break;
        var columns = CsvMetricsWriter.ParseHeader(header, path);
        if (columns.Count == 0 || columns[0] != "step") throw new TesseraFormatException(path, $"first header column must be 'step', found '{columns.FirstOrDefault()}'");
        int lineNumber = 1;
        while (reader.ReadLine() is { } line)
        {
            lineNumber++;
            if (line.Length == 0) continue;
            string[] cells = line.Split(',');
            if (!long.TryParse(cells[0], NumberStyles.Integer, CultureInfo.InvariantCulture, out long step))
                throw new TesseraFormatException(path, $"line {lineNumber}: step '{cells[0]}' is not an integer");
            var metrics = new Dictionary<string, double>(StringComparer.Ordinal);
            for (int i = 1; i < cells.Length && i < columns.Count; i++)
            {
                if (cells[i].Length == 0) continue;
                if (!double.TryParse(cells[i], NumberStyles.Float, CultureInfo.InvariantCulture, out double value))
                    throw new TesseraFormatException(path, $"line {lineNumber}, column '{columns[i]}': '{cells[i]}' is not a number");
                metrics[columns[i]] = value;
            }
            yield return (step, metrics);
        }
    }
}
