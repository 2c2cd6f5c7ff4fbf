using Tessera.Data;
using Tessera.Formats;
using Tessera.Tests.Shared;
using Tessera.Text;

namespace Tessera.Tests.Data;

/// <summary>CSV parsing (RFC 4180 quoting), JSONL reading, label mapping and per-batch padding of <see cref="TextClassificationDataset"/>.</summary>
public class TextClassificationDatasetTests : IDisposable
{
    private readonly TempDirectory temp = new("tessera-cls-data-");
    public void Dispose() => temp.Dispose();

    [Fact]
    public void Csv_parser_handles_quotes_commas_doubled_quotes_and_line_breaks()
    {
        var records = CsvParser.Parse("text,label\r\n\"a, b\",pos\n\"she said \"\"hi\"\"\",neg\n\"two\nlines\",pos\nplain,\n\n\"\",x");
        Assert.Equal(6, records.Count);
        Assert.Equal(["text", "label"], records[0]);
        Assert.Equal(["a, b", "pos"], records[1]);
        Assert.Equal(["she said \"hi\"", "neg"], records[2]);
        Assert.Equal(["two\nlines", "pos"], records[3]);
        Assert.Equal(["plain", ""], records[4]);
        Assert.Equal(["", "x"], records[5]);
    }

    [Fact]
    public void Csv_parser_rejects_an_unclosed_quote_and_a_stray_quote()
    {
        Assert.Contains("line 2: a quoted field is not closed", Assert.Throws<TesseraFormatException>(() => CsvParser.Parse("a,b\n\"open,x\n", "f.csv")).Message);
        Assert.Contains("line 1", Assert.Throws<TesseraFormatException>(() => CsvParser.Parse("ab\"c,d", "f.csv")).Message);
    }

    [Fact]
    public void Missing_column_names_the_file_and_the_available_columns()
    {
        string path = Path.Combine(temp.Path, "train.csv");
        File.WriteAllText(path, "sentence,label\nhello,1\n");
        var e = Assert.Throws<TesseraFormatException>(() => TextClassificationDataset.Read(path, "text", "label"));
        Assert.Contains("train.csv", e.Message);
        Assert.Contains("\"text\"", e.Message);
        Assert.Contains("\"sentence\", \"label\"", e.Message);

        string jsonl = Path.Combine(temp.Path, "train.jsonl");
        File.WriteAllText(jsonl, "{\"text\": \"a\", \"label\": 1}\n{\"text\": \"b\", \"y\": 0}\n");
        var j = Assert.Throws<TesseraFormatException>(() => TextClassificationDataset.Read(jsonl));
        Assert.Contains("train.jsonl", j.Message);
        Assert.Contains("line 2", j.Message);
        Assert.Contains("\"y\"", j.Message);
    }

    [Fact]
    public void Labels_map_integers_numerically_and_strings_ordinally()
    {
        string jsonl = Path.Combine(temp.Path, "ints.jsonl");
        File.WriteAllLines(jsonl, ["{\"text\": \"a\", \"label\": 10}", "{\"text\": \"b\", \"label\": 2}", "{\"text\": \"c\", \"label\": \"0\"}"]);
        var ints = TextClassificationDataset.Read(jsonl);
        Assert.Equal(["0", "2", "10"], TextClassificationDataset.LabelsOf(ints));

        string csv = Path.Combine(temp.Path, "names.csv");
        File.WriteAllText(csv, "label,body\nspam,x\nham,\"y, z\"\nspam,w\n");
        var names = TextClassificationDataset.Read(csv, "body", "label");
        Assert.Equal("y, z", names[1].Text);
        IReadOnlyList<string> labels = TextClassificationDataset.LabelsOf(names);
        Assert.Equal(["ham", "spam"], labels);
        ByteVocabulary.WriteTokenizerFiles(temp.Path, 8);
        var set = new TextClassificationDataset(names, labels, AutoTokenizer.FromPretrained(temp.Path), maxLength: 3);
        Assert.Equal([1L, 0L, 1L], set.LabelIds);
        using ClassificationBatch batch = set.GetBatch([0, 1]);
        Assert.Equal([2L, 3L], batch.InputIds.shape);
        Assert.Equal([1L, 0L, 0L, 1L, 1L, 1L], batch.AttentionMask.data<long>().ToArray());
        Assert.Equal([1L, 0L], batch.Labels.data<long>().ToArray());
        Assert.Throws<ArgumentException>(() => new TextClassificationDataset(names, ["ham"], AutoTokenizer.FromPretrained(temp.Path), 3));
    }
}
