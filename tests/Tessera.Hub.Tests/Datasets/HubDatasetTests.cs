using System.Text;
using Tessera.Formats;
using Tessera.Hub.Datasets;

namespace Tessera.Hub.Tests.Datasets;

public sealed class HubDatasetTests
{
    static readonly DatasetColumn Text = new("text", DatasetColumnType.String);
    static readonly DatasetColumn Label = new("label", DatasetColumnType.Int64);

    [Fact]
    public async Task Parquet_is_streamed_row_group_by_row_group()
    {
        using var tmp = new TempDirectory("tessera-ds-");
        var (texts, labels) = ParquetFiles.Rows(2500, seed: 1);
        File.WriteAllBytes(tmp.File("train.parquet"), await ParquetFiles.WriteWithParquetNetAsync(texts, labels, rowGroupSize: 1000));

        var split = HubDataset.Open(tmp.Path)["train"];
        var seen = new List<(int Block, long First, int Count)>();
        var readTexts = new List<string?>();
        var readLabels = new List<long?>();
        foreach (var batch in split.ReadBatches([Text, Label]))
        {
            seen.Add((batch.BlockIndex, batch.FirstRow, batch.Count));
            readTexts.AddRange(batch.Strings("text"));
            readLabels.AddRange(batch.Int64s("label"));
        }

        // One batch per row group, never the whole file at once.
        Assert.Equal([(0, 0L, 1000), (1, 1000L, 1000), (2, 2000L, 500)], seen);
        Assert.Equal(texts, readTexts);
        Assert.Equal(labels.Select(l => (long?)l), readLabels);
    }

    [Fact]
    public async Task Batches_are_produced_lazily_one_row_group_at_a_time()
    {
        using var tmp = new TempDirectory("tessera-ds-");
        var (texts, labels) = ParquetFiles.Rows(300, seed: 2);
        byte[] good = await ParquetFiles.WriteWithParquetNetAsync(texts, labels, rowGroupSize: 100);
        File.WriteAllBytes(tmp.File("train.parquet"), good);

        using var batches = HubDataset.Open(tmp.File("train.parquet"))["train"].ReadBatches([Text]).GetEnumerator();
        Assert.True(batches.MoveNext());
        Assert.Equal(100, batches.Current.Count);
        Assert.Equal(texts[..100], batches.Current.Strings("text"));
        Assert.True(batches.MoveNext());
        Assert.Equal(texts[100..200], batches.Current.Strings("text"));
    }

    [Fact]
    public void Parquet_written_by_Arrow_cpp_reads_back_with_nulls_types_and_zstd()
    {
        using var tmp = new TempDirectory("tessera-ds-");
        const int n = 50;
        string?[] texts = [.. Enumerable.Range(0, n).Select(i => i == 5 ? null : $"text {i} ünïcödé")];
        int[] labels = [.. Enumerable.Range(0, n).Select(i => i % 4)];
        double[] scores = [.. Enumerable.Range(0, n).Select(i => i * 0.25 - 3)];
        bool[] flags = [.. Enumerable.Range(0, n).Select(i => i % 3 == 0)];
        Directory.CreateDirectory(tmp.File("data"));
        ParquetFiles.WriteWithArrowCpp(tmp.File("data/train-00000-of-00001.parquet"), texts, labels, scores, flags);

        var dataset = HubDataset.Open(tmp.Path);
        var batches = dataset["train"].ReadBatches([Text, Label, new("score", DatasetColumnType.Double), new("flag", DatasetColumnType.Boolean)]).ToList();

        Assert.Equal([25, 25], batches.Select(b => b.Count));
        var rows = batches.SelectMany(b => b.Rows()).ToList();
        Assert.Equal(texts, rows.Select(r => r.GetString("text")));
        Assert.Equal(Enumerable.Range(0, n).Select(i => i % 7 == 0 ? (long?)null : labels[i]), rows.Select(r => r.GetInt64("label")));
        Assert.Equal(scores.Select(s => (double?)s), rows.Select(r => r.GetDouble("score")));
        Assert.Equal(flags.Select(f => (bool?)f), rows.Select(r => r.GetBoolean("flag")));
        // The same int32 column as a label reads as text, and as a double widens.
        Assert.Equal("1", dataset["train"].ReadRows(new DatasetColumn("label", DatasetColumnType.Label)).ElementAt(1).GetString("label"));
        Assert.Equal(2.0, dataset["train"].ReadRows(new DatasetColumn("label", DatasetColumnType.Double)).ElementAt(2).GetDouble("label"));
    }

    [Fact]
    public void Jsonl_and_csv_splits_read_by_column_name()
    {
        using var tmp = new TempDirectory("tessera-ds-");
        File.WriteAllText(tmp.File("train.jsonl"), """
            {"label": 1, "text": "great film", "extra": [1, 2]}

            {"text": "awful", "label": 0}
            {"text": null, "label": 2}
            """);
        File.WriteAllText(tmp.File("test.csv"), "id,text,label\r\n1,\"fine, I guess\",1\r\n2,\"said \"\"no\"\"\nand left\",0\r\n\r\n3,plain,\r\n");

        var dataset = HubDataset.Open(tmp.Path);

        Assert.Equal(["train", "test"], dataset.Splits.Select(s => s.Name));
        var train = dataset["train"].ReadRows(Text, Label).ToList();
        Assert.Equal(["great film", "awful", null], train.Select(r => r.GetString("text")));
        Assert.Equal([1L, 0L, 2L], train.Select(r => r.GetInt64("label")));
        var test = dataset["test"].ReadRows(Text, Label).ToList();
        Assert.Equal(["fine, I guess", "said \"no\"\nand left", "plain"], test.Select(r => r.GetString("text")));
        Assert.Equal([1L, 0L, null], test.Select(r => r.GetInt64("label")));
        Assert.Equal([0L, 1L, 2L], test.Select(r => r.RowNumber));
    }

    [Fact]
    public void Jsonl_blocks_have_the_asked_number_of_rows()
    {
        using var tmp = new TempDirectory("tessera-ds-");
        File.WriteAllLines(tmp.File("train.jsonl"), Enumerable.Range(0, 10).Select(i => $$"""{"text": "t{{i}}", "label": {{i}}}"""));
        var batches = HubDataset.Open(tmp.Path)["train"].ReadBatches([Label], blockRows: 4).ToList();
        Assert.Equal([4, 4, 2], batches.Select(b => b.Count));
        Assert.Equal([0L, 4L, 8L], batches.Select(b => b.FirstRow));
        Assert.Equal([8L, 9L], batches[2].Int64s("label"));
    }

    [Fact]
    public void Missing_split_lists_the_splits_there_are()
    {
        using var tmp = new TempDirectory("tessera-ds-");
        File.WriteAllText(tmp.File("train.jsonl"), "{\"text\": \"a\"}\n");
        var e = Assert.Throws<KeyNotFoundException>(() => HubDataset.Open(tmp.Path)["validation"]);
        Assert.Contains("no split \"validation\"; the dataset has: train", e.Message);
    }

    [Fact]
    public void Folder_without_data_files_is_an_error_naming_the_formats()
    {
        using var tmp = new TempDirectory("tessera-ds-");
        File.WriteAllText(tmp.File("README.md"), "# nothing");
        File.WriteAllText(tmp.File(".hidden.csv"), "a\n1\n");
        var e = Assert.Throws<TesseraFormatException>(() => HubDataset.Open(tmp.Path));
        Assert.Contains("no data files", e.Message);
        Assert.Contains(".parquet, .jsonl, .jsonl.gz, .csv or .csv.gz", e.Message);
    }

    [Fact]
    public void Gzipped_jsonl_and_csv_read_like_plain_ones_and_a_damaged_one_is_one_line()
    {
        using var tmp = new TempDirectory("tessera-ds-");
        Gzip(tmp.File("train.jsonl.gz"), "{\"text\": \"great film\", \"label\": 1}\n{\"text\": \"awful\", \"label\": 0}\n");
        Gzip(tmp.File("test.csv.gz"), "text,label\n\"fine, I guess\",1\n");
        File.WriteAllText(tmp.File("notes.txt.gz"), "not data");
        var dataset = HubDataset.Open(tmp.Path);
        Assert.Equal(["train", "test"], dataset.Splits.Select(s => s.Name));
        Assert.Equal(["great film", "awful"], dataset["train"].ReadRows(Text, Label).Select(r => r.GetString("text")));
        Assert.Equal([1L], dataset["test"].ReadRows(Text, Label).Select(r => r.GetInt64("label")));

        // A gzip header followed by garbage: deflate fails part-way.
        byte[] damaged = File.ReadAllBytes(tmp.File("train.jsonl.gz"));
        for (int i = 12; i < damaged.Length - 8; i++) damaged[i] ^= 0x5A;
        File.WriteAllBytes(tmp.File("train.jsonl.gz"), damaged);
        var e = Assert.Throws<TesseraFormatException>(() => HubDataset.Open(tmp.Path)["train"].ReadRows(Text).ToList());
        Assert.Contains("train.jsonl.gz", e.Message);
        Assert.Contains("not a valid gzip file", e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }

    static void Gzip(string path, string text)
    {
        using var file = File.Create(path);
        using var gzip = new System.IO.Compression.GZipStream(file, System.IO.Compression.CompressionLevel.Optimal);
        gzip.Write(Encoding.UTF8.GetBytes(text));
    }

    // ---- bad files: one clear line naming the file, the column and what was expected ----

    [Fact]
    public async Task Truncated_parquet_is_one_line_naming_the_file()
    {
        using var tmp = new TempDirectory("tessera-ds-");
        var (texts, labels) = ParquetFiles.Rows(200, seed: 3);
        byte[] good = await ParquetFiles.WriteWithParquetNetAsync(texts, labels, rowGroupSize: 100);
        string path = tmp.File("train.parquet");
        File.WriteAllBytes(path, good[..(good.Length / 2)]);

        var e = Assert.Throws<TesseraFormatException>(() => HubDataset.Open(path)["train"].ReadRows(Text).ToList());
        Assert.StartsWith($"{path}: not a readable Parquet file", e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }

    [Fact]
    public async Task Parquet_with_a_corrupted_column_chunk_names_the_row_group_and_column()
    {
        using var tmp = new TempDirectory("tessera-ds-");
        var (texts, labels) = ParquetFiles.Rows(200, seed: 4);
        byte[] bytes = await ParquetFiles.WriteWithParquetNetAsync(texts, labels, rowGroupSize: 100);
        // Overwrite the start of the data (just after the "PAR1" magic): the first column chunk's page header.
        for (int i = 4; i < 40; i++) bytes[i] = 0xFF;
        string path = tmp.File("train.parquet");
        File.WriteAllBytes(path, bytes);

        var e = Assert.Throws<TesseraFormatException>(() => HubDataset.Open(path)["train"].ReadRows(Text).ToList());
        Assert.StartsWith($"{path}: row group 0: column \"text\": cannot be read", e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }

    [Fact]
    public async Task Wrong_column_type_names_file_column_and_expected_type()
    {
        using var tmp = new TempDirectory("tessera-ds-");
        var (texts, labels) = ParquetFiles.Rows(10, seed: 5);
        string path = tmp.File("train.parquet");
        File.WriteAllBytes(path, await ParquetFiles.WriteWithParquetNetAsync(texts, labels, rowGroupSize: 10));
        var split = HubDataset.Open(path)["train"];

        var wrongType = Assert.Throws<TesseraFormatException>(() => split.ReadRows(new DatasetColumn("text", DatasetColumnType.Int64)).ToList());
        Assert.Equal($"{path}: column \"text\" holds string values, expected an integer", wrongType.Message);
        var missing = Assert.Throws<TesseraFormatException>(() => split.ReadRows(new DatasetColumn("sentence", DatasetColumnType.String)).ToList());
        Assert.Equal($"{path}: no column \"sentence\"; the file has: \"text\", \"label\"", missing.Message);
    }

    [Fact]
    public void Wrong_types_in_jsonl_and_csv_name_the_line()
    {
        using var tmp = new TempDirectory("tessera-ds-");
        string jsonl = tmp.File("train.jsonl"), csv = tmp.File("test.csv");
        File.WriteAllText(jsonl, "{\"text\": \"a\", \"label\": 1}\n{\"text\": \"b\", \"label\": \"pos\"}\n");
        File.WriteAllText(csv, "text,label\na,1\nb,1.5\n");
        var dataset = HubDataset.Open(tmp.Path);

        var j = Assert.Throws<TesseraFormatException>(() => dataset["train"].ReadRows(Text, Label).ToList());
        Assert.Equal($"{jsonl}: line 2: field \"label\" is a string (\"pos\"), expected an integer", j.Message);
        var c = Assert.Throws<TesseraFormatException>(() => dataset["test"].ReadRows(Text, Label).ToList());
        Assert.Equal($"{csv}: line 3: column \"label\" has \"1.5\", expected an integer", c.Message);
        // As labels, both read as text.
        Assert.Equal(["1", "pos"], dataset["train"].ReadRows(new DatasetColumn("label", DatasetColumnType.Label)).Select(r => r.GetString("label")));
    }

    [Fact]
    public void Broken_jsonl_and_csv_are_one_line()
    {
        using var tmp = new TempDirectory("tessera-ds-");
        File.WriteAllText(tmp.File("train.jsonl"), "{\"text\": \"a\"}\n{\"text\": \n");
        File.WriteAllText(tmp.File("test.csv"), "text\n\"never closed\n");
        var dataset = HubDataset.Open(tmp.Path);

        var j = Assert.Throws<TesseraFormatException>(() => dataset["train"].ReadRows(Text).ToList());
        Assert.StartsWith($"{tmp.File("train.jsonl")}: line 2: invalid JSON", j.Message);
        var c = Assert.Throws<TesseraFormatException>(() => dataset["test"].ReadRows(Text).ToList());
        Assert.Equal($"{tmp.File("test.csv")}: line 2: a quoted field is not closed before the end of the file", c.Message);
    }

    [Fact]
    public void Garbage_named_parquet_is_not_a_parquet_file()
    {
        using var tmp = new TempDirectory("tessera-ds-");
        string path = tmp.File("train.parquet");
        File.WriteAllBytes(path, Encoding.ASCII.GetBytes("text,label\nnot,parquet\n"));
        var e = Assert.Throws<TesseraFormatException>(() => HubDataset.Open(path)["train"].ReadRows(Text).ToList());
        Assert.StartsWith($"{path}: not a readable Parquet file", e.Message);
    }
}
