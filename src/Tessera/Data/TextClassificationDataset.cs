using System.Globalization;
using System.Text.Json;
using Tessera.Formats;
using Tessera.Hub.Datasets;
using Tessera.Text;
using static TorchSharp.torch;

namespace Tessera.Data;

/// <summary>
/// Text classification examples (CSV with a header row, or JSONL objects) tokenized per batch: each batch is padded to
/// its longest row (truncated at a maximum length) with an attention mask, and labels are mapped to ids.
/// </summary>
public sealed class TextClassificationDataset : IDataset<ClassificationBatch>
{
    readonly IReadOnlyList<LabeledText> examples;
    readonly long[] labelIds;
    readonly HfTokenizer tokenizer;
    readonly int maxLength;

    /// <summary>Wraps <paramref name="examples"/>; every label must be one of <paramref name="labels"/>.</summary>
    /// <param name="examples">The texts and labels.</param>
    /// <param name="labels">Label names by id (see <see cref="LabelsOf"/>).</param>
    /// <param name="tokenizer">Tokenizes the texts (with special tokens); pads with its pad or end-of-text token.</param>
    /// <param name="maxLength">Rows longer than this are truncated.</param>
    /// <exception cref="ArgumentException">A label is not in <paramref name="labels"/>, or <paramref name="maxLength"/> is below 1.</exception>
    public TextClassificationDataset(IReadOnlyList<LabeledText> examples, IReadOnlyList<string> labels, HfTokenizer tokenizer, int maxLength)
    {
        ArgumentNullException.ThrowIfNull(examples);
        ArgumentNullException.ThrowIfNull(labels);
        if (maxLength < 1) throw new ArgumentException($"maximum length must be at least 1, got {maxLength}", nameof(maxLength));
        this.examples = examples;
        this.tokenizer = tokenizer ?? throw new ArgumentNullException(nameof(tokenizer));
        this.maxLength = maxLength;
        var ids = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int i = 0; i < labels.Count; i++) ids[labels[i]] = i;
        labelIds = examples.Select(e => ids.TryGetValue(e.Label, out int id) ? (long)id
            : throw new ArgumentException($"label \"{e.Label}\" is not one of the model's labels [{string.Join(", ", labels)}]", nameof(examples))).ToArray();
    }

    /// <inheritdoc />
    public int Count => examples.Count;

    /// <summary>Label id of each example.</summary>
    public IReadOnlyList<long> LabelIds => labelIds;

    /// <inheritdoc />
    public ClassificationBatch GetBatch(ReadOnlySpan<int> indices)
    {
        var texts = new string[indices.Length];
        var labels = new long[indices.Length];
        for (int i = 0; i < indices.Length; i++)
        {
            texts[i] = examples[indices[i]].Text;
            labels[i] = labelIds[indices[i]];
        }
        BatchEncoding enc = tokenizer.EncodeBatch(texts, PaddingStrategy.Longest, maxLength, truncation: true);
        long width = Math.Max(1, enc.SequenceLength);
        return new ClassificationBatch(
            tensor(enc.FlattenInputIds(), [indices.Length, width], ScalarType.Int64),
            tensor(enc.FlattenAttentionMask(), [indices.Length, width], ScalarType.Int64),
            tensor(labels, [indices.Length], ScalarType.Int64));
    }

    /// <summary>
    /// The distinct labels in id order: numerically when every label is an integer (so labels 0..n-1 keep their ids),
    /// otherwise in ordinal string order.
    /// </summary>
    public static IReadOnlyList<string> LabelsOf(IEnumerable<LabeledText> examples)
    {
        var distinct = examples.Select(e => e.Label).Distinct(StringComparer.Ordinal).ToList();
        if (distinct.All(l => long.TryParse(l, NumberStyles.Integer, CultureInfo.InvariantCulture, out _)))
            return [.. distinct.OrderBy(l => long.Parse(l, CultureInfo.InvariantCulture))];
        return [.. distinct.OrderBy(l => l, StringComparer.Ordinal)];
    }

    /// <summary>
    /// Reads examples from a <c>.parquet</c> file, a <c>.jsonl</c> file (one object per line; the label a string or a
    /// number) or otherwise a CSV file with a header row naming the columns.
    /// </summary>
    /// <param name="path">The file.</param>
    /// <param name="textColumn">Column (CSV) or field (JSONL) of the text.</param>
    /// <param name="labelColumn">Column or field of the label.</param>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="TesseraFormatException">A column or field is missing (the message names the file and the available ones), or the file is malformed.</exception>
    public static List<LabeledText> Read(string path, string textColumn = "text", string labelColumn = "label")
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"{path}: no such file", path);
        if (path.EndsWith(".parquet", StringComparison.OrdinalIgnoreCase)) return Read(HubDataset.Open(path)["train"], textColumn, labelColumn);
        return path.EndsWith(".jsonl", StringComparison.OrdinalIgnoreCase) || path.EndsWith(".json", StringComparison.OrdinalIgnoreCase)
            ? ReadJsonl(path, textColumn, labelColumn)
            : ReadCsv(path, textColumn, labelColumn);
    }

    /// <summary>
    /// Reads examples from a split of a Hub-style dataset (<see cref="HubDataset"/>: Parquet, JSONL or CSV files),
    /// streaming its files; the label may be a string, an integer (a <c>ClassLabel</c> id) or a boolean.
    /// </summary>
    /// <exception cref="TesseraFormatException">A file is malformed, lacks a column, has a column of another type, or a null text or label.</exception>
    public static List<LabeledText> Read(DatasetSplit split, string textColumn = "text", string labelColumn = "label")
    {
        ArgumentNullException.ThrowIfNull(split);
        var result = new List<LabeledText>();
        DatasetColumn[] columns = textColumn == labelColumn
            ? throw new ArgumentException($"--text-column and --label-column are both \"{textColumn}\"")
            : [new(textColumn, DatasetColumnType.String), new(labelColumn, DatasetColumnType.Label)];
        foreach (DatasetRow row in split.ReadRows(columns))
        {
            string text = row.GetString(textColumn) ?? throw new TesseraFormatException(row.File, $"row {row.RowNumber}: text column \"{textColumn}\" is null");
            string label = row.GetString(labelColumn) ?? throw new TesseraFormatException(row.File, $"row {row.RowNumber}: label column \"{labelColumn}\" is null");
            result.Add(new LabeledText(text, label));
        }
        return result;
    }

    static List<LabeledText> ReadCsv(string path, string textColumn, string labelColumn)
    {
        List<string[]> records = CsvParser.Parse(File.ReadAllText(path), path);
        if (records.Count == 0) throw new TesseraFormatException(path, "empty file (expected a header row naming the columns)");
        string[] header = records[0];
        int Column(string name, string option)
        {
            int index = Array.IndexOf(header, name);
            return index >= 0 ? index : throw new TesseraFormatException(path,
                $"no column \"{name}\" ({option}); the header has: {string.Join(", ", header.Select(h => $"\"{h}\""))}");
        }
        int text = Column(textColumn, "--text-column"), label = Column(labelColumn, "--label-column");
        var result = new List<LabeledText>(records.Count - 1);
        for (int r = 1; r < records.Count; r++)
        {
            string[] row = records[r];
            if (row.Length != header.Length)
                throw new TesseraFormatException(path, $"record {r + 1}: {row.Length} fields, the header has {header.Length}");
            result.Add(new LabeledText(row[text], row[label].Trim()));
        }
        return result;
    }

    static List<LabeledText> ReadJsonl(string path, string textField, string labelField)
    {
        var result = new List<LabeledText>();
        int number = 0;
        foreach (string line in File.ReadLines(path))
        {
            number++;
            if (string.IsNullOrWhiteSpace(line)) continue;
            JsonElement root;
            try
            {
                using var doc = JsonDocument.Parse(line);
                root = doc.RootElement.Clone();
            }
            catch (JsonException e)
            {
                throw new TesseraFormatException(path, $"line {number}: invalid JSON: {e.Message}", e);
            }
            if (root.ValueKind != JsonValueKind.Object) throw new TesseraFormatException(path, $"line {number}: expected a JSON object");
            string Fields() => string.Join(", ", root.EnumerateObject().Select(p => $"\"{p.Name}\""));
            if (!root.TryGetProperty(textField, out JsonElement text) || text.ValueKind != JsonValueKind.String)
                throw new TesseraFormatException(path, $"line {number}: no string field \"{textField}\" (--text-column); the object has: {Fields()}");
            if (!root.TryGetProperty(labelField, out JsonElement label))
                throw new TesseraFormatException(path, $"line {number}: no field \"{labelField}\" (--label-column); the object has: {Fields()}");
            string labelText = label.ValueKind switch
            {
                JsonValueKind.String => label.GetString()!.Trim(),
                JsonValueKind.Number when label.TryGetInt64(out long n) => n.ToString(CultureInfo.InvariantCulture),
                JsonValueKind.True or JsonValueKind.False => label.GetRawText(),
                _ => throw new TesseraFormatException(path, $"line {number}: label \"{labelField}\" must be a string or an integer, got {label.GetRawText()}"),
            };
            result.Add(new LabeledText(text.GetString()!, labelText));
        }
        return result;
    }
}
