using System.Text;
using Tessera.Formats;

namespace Tessera.Data;

/// <summary>
/// A reader for comma-separated values as RFC 4180 describes them: fields separated by commas, records by CRLF or
/// LF, fields optionally enclosed in double quotes, inside which commas and line breaks are literal and a doubled
/// quote stands for one quote.
/// </summary>
public static class CsvParser
{
    /// <summary>Parses every record of <paramref name="text"/>; blank lines are skipped.</summary>
    /// <param name="text">The CSV text.</param>
    /// <param name="sourceName">Named in error messages (a file path).</param>
    /// <returns>The records, each a list of fields.</returns>
    /// <exception cref="TesseraFormatException">A quoted field is not closed, or a quote appears inside an unquoted field.</exception>
    public static List<string[]> Parse(string text, string? sourceName = null)
    {
        ArgumentNullException.ThrowIfNull(text);
        var records = new List<string[]>();
        var fields = new List<string>();
        var field = new StringBuilder();
        int line = 1, i = 0, openedAt = 1;
        bool quoted = false, wasQuoted = false, any = false;
        if (text.Length > 0 && text[0] == '\uFEFF') i = 1;
        void EndField()
        {
            fields.Add(field.ToString());
            field.Clear();
            wasQuoted = false;
        }
        void EndRecord()
        {
            EndField();
            if (!(fields.Count == 1 && fields[0].Length == 0 && !any)) records.Add([.. fields]);
            fields.Clear();
            any = false;
        }
        for (; i < text.Length; i++)
        {
            char c = text[i];
            if (quoted)
            {
                if (c == '"')
                {
                    if (i + 1 < text.Length && text[i + 1] == '"') { field.Append('"'); i++; }
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
                case '"':
                    if (field.Length > 0 || wasQuoted)
                        throw new TesseraFormatException(sourceName, $"line {line}: a double quote inside an unquoted field (quote the field and double the quote)");
                    quoted = wasQuoted = any = true;
                    openedAt = line;
                    break;
                case ',':
                    any = true;
                    EndField();
                    break;
                case '\r' when i + 1 < text.Length && text[i + 1] == '\n':
                    break;
                case '\n':
                    line++;
                    EndRecord();
                    break;
                default:
                    if (wasQuoted)
                        throw new TesseraFormatException(sourceName, $"line {line}: text after the closing quote of a field");
                    any = true;
                    field.Append(c);
                    break;
            }
        }
        if (quoted) throw new TesseraFormatException(sourceName, $"line {openedAt}: a quoted field is not closed");
        if (field.Length > 0 || fields.Count > 0 || any) EndRecord();
        return records;
    }
}
