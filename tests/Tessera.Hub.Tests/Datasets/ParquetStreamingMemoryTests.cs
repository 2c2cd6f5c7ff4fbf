using Tessera.Hub.Datasets;

namespace Tessera.Hub.Tests.Datasets;

/// <summary>Measures live managed memory, so it runs alone: other tests' allocations would blur the numbers.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class MemoryMeasuredAlone
{
    public const string Name = "memory measured, run alone";
}

[Collection(MemoryMeasuredAlone.Name)]
public sealed class ParquetStreamingMemoryTests
{
    static readonly DatasetColumn Text = new("text", DatasetColumnType.String);

    [Fact]
    public async Task Reading_a_large_parquet_file_holds_about_one_row_group_in_memory()
    {
        using var tmp = new TempDirectory("tessera-ds-");
        const int groups = 8, rowsPerGroup = 4000, chars = 512;
        var random = new Random(7);
        string[] texts = [.. Enumerable.Range(0, groups * rowsPerGroup).Select(_ => new string([.. Enumerable.Range(0, chars).Select(_ => (char)random.Next('a', 'z' + 1))]))];
        long[] labels = new long[texts.Length];
        string path = tmp.File("train.parquet");
        File.WriteAllBytes(path, await ParquetFiles.WriteWithParquetNetAsync(texts, labels, rowsPerGroup));
        texts = [];
        long fileBytes = new FileInfo(path).Length;
        long rowGroupChars = (long)rowsPerGroup * chars * sizeof(char);

        long baseline = GC.GetTotalMemory(forceFullCollection: true);
        var live = new List<long>();
        foreach (var batch in HubDataset.Open(path)["train"].ReadBatches([Text]))
        {
            Assert.Equal(rowsPerGroup, batch.Count);
            live.Add(GC.GetTotalMemory(forceFullCollection: true) - baseline); // the current batch is still referenced
        }

        // 8 row groups of random text: the whole file as strings would be 8 x 4.1 MB. Measured: 10.7 MB live at every
        // batch (one row group's strings, its raw bytes and Parquet.Net's pooled buffers), flat from the first to the last.
        string report = $"live managed memory per batch (MB): {string.Join(", ", live.Select(b => (b / 1e6).ToString("0.0", System.Globalization.CultureInfo.InvariantCulture)))}; " +
            $"file {fileBytes / 1e6:0.0} MB, one row group's strings {rowGroupChars / 1e6:0.0} MB";
        Assert.Equal(groups, live.Count);
        Assert.True(live.Max() < 4 * rowGroupChars, report);
        Assert.True(live[^1] - live[0] < rowGroupChars / 2, report);
    }
}
