using System.Globalization;
using System.Text;
using Tessera.Formats;

namespace Tessera.Hub.Datasets;

/// <summary>
/// Reads CSV (RFC 4180: a header row naming the columns, comma separators, double-quoted fields that may hold commas,
/// quotes written twice and line breaks) a block of rows at a time. Blank lines are skipped; an empty field of a
/// numeric or boolean column is null.
/// </summary>
internal static class CsvBatchReader
{
    public static IEnumerable<DatasetBatch> Read(string path, IReadOnlyList<DatasetColumn> columns, int blockRows)
    {
        using var reader = DataFileText.Open(path);
        using var records = Records(reader, path).GetEnumerator();
        if (!records.MoveNext()) throw new TesseraFormatException(path, "empty file (expected a header row naming the columns)");
        string[] header = records.Current.Fields;
        int[] at = new int[columns.Count];
        for (int c = 0; c < columns.Count; c++)
        {
            at[c] = Array.IndexOf(header, columns[c].Name);
            if (at[c] < 0)
                throw new TesseraFormatException(path, $"no column \"{columns[c].Name}\"; the header has: {string.Join(", ", header.Select(h => $"\"{h}\""))}");
        }
        var block = new BlockBuilder(path, columns, blockRows);
        while (records.MoveNext())
        {
            var (fields, line) = records.Current;
            if (fields.Length != header.Length)
                throw new TesseraFormatException(path, $"line {line}: {fields.Length} fields, the header has {header.Length}");
            for (int c = 0; c < columns.Count; c++) Set(block, c, columns[c], fields[at[c]], path, line);
            block.EndRow();
            if (block.Full) yield return block.Take();
        }
        if (block.Count > 0) yield return block.Take();
    }

    static void Set(BlockBuilder block, int c, DatasetColumn column, string field, string path, long line)
    {
        var inv = CultureInfo.InvariantCulture;
        string trimmed = field.Trim();
        switch (column.Type)
        {
            case DatasetColumnType.String:
                block.SetString(c, field);
                return;
            case DatasetColumnType.Label:
                block.SetString(c, trimmed);
                return;
            case var _ when trimmed.Length == 0:
                return; // null
            case DatasetColumnType.Int64 when long.TryParse(trimmed, NumberStyles.Integer, inv, out long n):
                block.SetInt64(c, n);
                return;
            case DatasetColumnType.Double when double.TryParse(trimmed, NumberStyles.Float, inv, out double d):
                block.SetDouble(c, d);
                return;
            case DatasetColumnType.Boolean when bool.TryParse(trimmed, out bool b):
                block.SetBoolean(c, b);
                return;
        }
        string shown = trimmed.Length > 40 ? trimmed[..40] + "..." : trimmed;
        throw new TesseraFormatException(path, $"line {line}: column \"{column.Name}\" has \"{shown}\", expected {column.Expected}");
    }

    /// <summary>The records of the file with the line each starts on; a quoted field may span lines.</summary>
    static IEnumerable<(string[] Fields, long Line)> Records(TextReader reader, string path)
    {
        var fields = new List<string>();
        var field = new StringBuilder();
        long line = 1, start = 1;
        bool quoted = false, wasQuoted = false, any = false;
        int ch;
        while ((ch = reader.Read()) >= 0)
        {
            char c = (char)ch;
            if (quoted)
            {
                if (c == '"')
                {
                    if (reader.Peek() == '"') { reader.Read(); field.Append('"'); }
                    else quoted = false;
                }
                else
                {
                    if (c == '\n') line++;
                    field.Append(c);
                }
                continue;
            }
            switch (c)
            {
                case '"' when field.Length == 0 && !wasQuoted:
                    quoted = wasQuoted = any = true;
                    break;
                case ',':
                    fields.Add(field.ToString());
                    field.Clear();
                    wasQuoted = false;
                    any = true;
                    break;
                case '\r' when reader.Peek() == '\n':
                    break;
                case '\n' or '\r':
                    if (any || field.Length > 0)
                    {
                        fields.Add(field.ToString());
                        yield return ([.. fields], start);
                    }
                    fields.Clear();
                    field.Clear();
                    wasQuoted = any = false;
                    start = ++line;
                    break;
                default:
                    field.Append(c);
                    any = true;
                    break;
            }
        }
        if (quoted) throw new TesseraFormatException(path, $"line {start}: a quoted field is not closed before the end of the file");
        if (any || field.Length > 0)
        {
            fields.Add(field.ToString());
            yield return ([.. fields], start);
        }
    }
}
