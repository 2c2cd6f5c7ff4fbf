using System.Globalization;
using System.Text;
using Tessera.Formats;

namespace Tessera.Tracking.Csv;

/// <summary>
/// Appends metric rows to a CSV file (<c>metrics.csv</c>) whose first column is <c>step</c>. The set of columns may
/// grow: when a row brings a new metric, the file is rewritten atomically with the union header and empty cells for
/// earlier rows; otherwise a row is a plain append.
/// </summary>
/// <remarks>
/// Opening an existing file continues it, keeping its columns. Values are written with invariant culture in
/// round-trip form; a metric absent from a row leaves its cell empty. Thread-safe.
/// </remarks>
public sealed class CsvMetricsWriter
{
    const string StepColumn = "step";
    readonly List<string> _columns = [];
    readonly Lock _gate = new();

    /// <summary>Starts or continues the CSV file at <paramref name="path"/>.</summary>
    /// <exception cref="TesseraFormatException">An existing file does not start with a <c>step</c> header.</exception>
    public CsvMetricsWriter(string path)
    {
        FilePath = Path.GetFullPath(path);
        if (File.Exists(FilePath) && new FileInfo(FilePath).Length > 0)
        {
            string? header;
            using (var reader = new StreamReader(FilePath, Encoding.UTF8)) header = reader.ReadLine();
            List<string> names = header is null ? [] : ParseHeader(header, FilePath);
            if (names.Count == 0 || names[0] != StepColumn)
                throw new TesseraFormatException(FilePath, $"first header column must be '{StepColumn}', found '{(names.Count > 0 ? names[0] : "")}'");
            _columns.AddRange(names.Skip(1));
        }
    }

    /// <summary>Full path of the CSV file.</summary>
    public string FilePath { get; }

    /// <summary>The metric columns so far (after <c>step</c>), in first-seen order.</summary>
    public IReadOnlyList<string> Columns
    {
        get { lock (_gate) return _columns.ToList(); }
    }

    /// <summary>Writes one row for <paramref name="step"/>; new metric names become new columns.</summary>
    /// <exception cref="ArgumentException">A metric is called <c>step</c> or contains a line break.</exception>
    public void Append(long step, IReadOnlyDictionary<string, double> metrics)
    {
        ArgumentNullException.ThrowIfNull(metrics);
        foreach (string name in metrics.Keys)
        {
            if (name == StepColumn) throw new ArgumentException($"'{StepColumn}' is the step column and cannot be a metric name", nameof(metrics));
            if (name.AsSpan().IndexOfAny('\r', '\n') >= 0) throw new ArgumentException($"metric name '{name}' contains a line break", nameof(metrics));
        }
        lock (_gate)
        {
            var added = metrics.Keys.Where(k => !_columns.Contains(k)).ToList();
            bool fileExists = File.Exists(FilePath) && new FileInfo(FilePath).Length > 0;
            if (added.Count > 0 || !fileExists)
            {
                int before = _columns.Count;
                _columns.AddRange(added);
                Rewrite(fileExists, _columns.Count - before);
            }
            File.AppendAllText(FilePath, Row(step, metrics) + "\n", new UTF8Encoding(false));
        }
    }

    /// <summary>
    /// Drops the rows whose step is after <paramref name="step"/> (atomically): what a killed run logged after the
    /// checkpoint it is resumed from.
    /// </summary>
    public void RemoveRowsAfter(long step)
    {
        lock (_gate)
        {
            if (!File.Exists(FilePath)) return;
            string[] lines = File.ReadAllLines(FilePath);
            if (lines.Length <= 1) return;
            var kept = lines.Skip(1).Where(row => row.Length > 0 && RowStep(row) <= step).ToArray();
            if (kept.Length == lines.Length - 1) return;
            AtomicFile.Write(FilePath, stream =>
            {
                using var writer = new StreamWriter(stream, new UTF8Encoding(false), 1 << 16, leaveOpen: true) { NewLine = "\n" };
                writer.WriteLine(lines[0]);
                foreach (string row in kept) writer.WriteLine(row);
            });
        }
    }

    /// <summary>The step of a data row (its first cell), or <see cref="long.MinValue"/> when it is not a number.</summary>
    static long RowStep(string row)
    {
        int comma = row.IndexOf(',');
        return long.TryParse(comma < 0 ? row : row[..comma], NumberStyles.Integer, CultureInfo.InvariantCulture, out long s) ? s : long.MinValue;
    }

    /// <summary>Writes the union header and pads earlier rows with empty cells for the new columns.</summary>
    void Rewrite(bool fileExists, int addedColumns)
    {
        string[] oldRows = fileExists ? File.ReadAllLines(FilePath).Skip(1).ToArray() : [];
        string padding = new(',', addedColumns);
        AtomicFile.Write(FilePath, stream =>
        {
            using var writer = new StreamWriter(stream, new UTF8Encoding(false), 1 << 16, leaveOpen: true) { NewLine = "\n" };
            writer.WriteLine(string.Join(",", new[] { StepColumn }.Concat(_columns).Select(Escape)));
            foreach (string row in oldRows)
                if (row.Length > 0) writer.WriteLine(row + padding);
        });
    }

    string Row(long step, IReadOnlyDictionary<string, double> metrics)
    {
        var sb = new StringBuilder(step.ToString(CultureInfo.InvariantCulture));
        foreach (string column in _columns)
        {
            sb.Append(',');
            if (metrics.TryGetValue(column, out double v)) sb.Append(v.ToString("R", CultureInfo.InvariantCulture));
        }
        return sb.ToString();
    }

    static string Escape(string field) =>
        field.AsSpan().IndexOfAny(',', '"') >= 0 ? "\"" + field.Replace("\"", "\"\"") + "\"" : field;

    internal static List<string> ParseHeader(string line, string path)
    {
        var fields = new List<string>();
        var current = new StringBuilder();
        bool quoted = false;
        for (int i = 0; i < line.Length; i++)
        {
            char c = line[i];
            if (quoted)
            {
                if (c == '"' && i + 1 < line.Length && line[i + 1] == '"') { current.Append('"'); i++; }
                else if (c == '"') quoted = false;
                else current.Append(c);
            }
            else if (c == '"') quoted = true;
            else if (c == ',') { fields.Add(current.ToString()); current.Clear(); }
            else current.Append(c);
        }
        if (quoted) throw new TesseraFormatException(path, "header has an unterminated quoted field");
        fields.Add(current.ToString());
        return fields;
    }
}
