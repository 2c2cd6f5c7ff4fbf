using System.Globalization;
using System.Text;
using System.Text.Json;
using Tessera.Formats;

namespace Tessera.Hub.Datasets;

/// <summary>Reads JSON Lines (one object per line, blank lines skipped) a block of rows at a time.</summary>
internal static class JsonLinesBatchReader
{
    public static IEnumerable<DatasetBatch> Read(string path, IReadOnlyList<DatasetColumn> columns, int blockRows)
    {
        using var reader = DataFileText.Open(path);
        var block = new BlockBuilder(path, columns, blockRows);
        long number = 0;
        while (reader.ReadLine() is { } line)
        {
            number++;
            if (string.IsNullOrWhiteSpace(line)) continue;
            JsonDocument doc;
            try { doc = JsonDocument.Parse(line); }
            catch (JsonException e) { throw new TesseraFormatException(path, $"line {number}: invalid JSON ({e.Message})", e); }
            using (doc)
            {
                JsonElement root = doc.RootElement;
                if (root.ValueKind != JsonValueKind.Object)
                    throw new TesseraFormatException(path, $"line {number}: expected a JSON object, got {Kind(root)}");
                for (int c = 0; c < columns.Count; c++)
                {
                    DatasetColumn column = columns[c];
                    if (!root.TryGetProperty(column.Name, out JsonElement value))
                        throw new TesseraFormatException(path,
                            $"line {number}: no field \"{column.Name}\"; the object has: {string.Join(", ", root.EnumerateObject().Select(p => $"\"{p.Name}\""))}");
                    Set(block, c, column, value, path, number);
                }
            }
            block.EndRow();
            if (block.Full) yield return block.Take();
        }
        if (block.Count > 0) yield return block.Take();
    }

    static void Set(BlockBuilder block, int c, DatasetColumn column, JsonElement value, string path, long line)
    {
        if (value.ValueKind == JsonValueKind.Null) return; // arrays start out null
        switch (column.Type)
        {
            case DatasetColumnType.String when value.ValueKind == JsonValueKind.String:
                block.SetString(c, value.GetString());
                return;
            case DatasetColumnType.Int64 when value.ValueKind == JsonValueKind.Number && value.TryGetInt64(out long n):
                block.SetInt64(c, n);
                return;
            case DatasetColumnType.Double when value.ValueKind == JsonValueKind.Number:
                block.SetDouble(c, value.GetDouble());
                return;
            case DatasetColumnType.Boolean when value.ValueKind is JsonValueKind.True or JsonValueKind.False:
                block.SetBoolean(c, value.GetBoolean());
                return;
            case DatasetColumnType.Label when value.ValueKind == JsonValueKind.String:
                block.SetString(c, value.GetString()!.Trim());
                return;
            case DatasetColumnType.Label when value.ValueKind == JsonValueKind.Number:
                block.SetString(c, value.TryGetInt64(out long id) ? id.ToString(CultureInfo.InvariantCulture) : value.GetRawText());
                return;
            case DatasetColumnType.Label when value.ValueKind is JsonValueKind.True or JsonValueKind.False:
                block.SetString(c, value.GetRawText());
                return;
        }
        throw new TesseraFormatException(path, $"line {line}: field \"{column.Name}\" is {Kind(value)}, expected {column.Expected}");
    }

    static string Kind(JsonElement value)
    {
        string raw = value.GetRawText();
        if (raw.Length > 40) raw = raw[..40] + "...";
        string kind = value.ValueKind switch
        {
            JsonValueKind.Object => "an object",
            JsonValueKind.Array => "an array",
            JsonValueKind.String => "a string",
            JsonValueKind.Number => value.TryGetInt64(out _) ? "an integer" : "a real number",
            JsonValueKind.True or JsonValueKind.False => "a boolean",
            _ => "null",
        };
        return $"{kind} ({raw})";
    }
}
