using Parquet;
using Parquet.Schema;
using ParquetSharp;

namespace Tessera.Hub.Tests.Datasets;

/// <summary>Small Parquet files for the tests: text + label rows, written by Parquet.Net or by Apache Arrow's C++ writer (ParquetSharp).</summary>
internal static class ParquetFiles
{
    public static (string[] Texts, long[] Labels) Rows(int count, int seed)
    {
        var random = new Random(seed);
        string[] texts = [.. Enumerable.Range(0, count).Select(i => $"review {seed}-{i}: {(random.Next(2) == 0 ? "good" : "bad, \"really\"")} ✓")];
        long[] labels = [.. Enumerable.Range(0, count).Select(_ => (long)random.Next(3))];
        return (texts, labels);
    }

    /// <summary>Writes text (string) and label (int64) columns with Parquet.Net, <paramref name="rowGroupSize"/> rows per row group.</summary>
    public static async Task<byte[]> WriteWithParquetNetAsync(string[] texts, long[] labels, int rowGroupSize)
    {
        var text = new DataField<string>("text");
        var label = new DataField<long>("label");
        using var stream = new MemoryStream();
        await using (var writer = await ParquetWriter.CreateAsync(new ParquetSchema(text, label), stream))
        {
            for (int start = 0; start < texts.Length; start += rowGroupSize)
            {
                int length = Math.Min(rowGroupSize, texts.Length - start);
                using var group = writer.CreateRowGroup();
                await group.WriteAsync(text, texts[start..(start + length)]);
                await group.WriteAsync<long>(label, labels.AsMemory(start, length));
            }
        }
        return stream.ToArray();
    }

    /// <summary>
    /// Writes with Apache Arrow's C++ Parquet writer (the one pyarrow and pandas use): text (string, nullable), label (int32, nullable:
    /// every 7th row null), score (double), flag (bool), zstd-compressed, two row groups.
    /// </summary>
    public static void WriteWithArrowCpp(string path, string?[] texts, int[] labels, double[] scores, bool[] flags)
    {
        Column[] columns = [new Column<string>("text"), new Column<int?>("label"), new Column<double>("score"), new Column<bool>("flag")];
        using var file = new ParquetFileWriter(path, columns, Compression.Zstd);
        int half = texts.Length / 2;
        foreach (var (start, end) in new[] { (0, half), (half, texts.Length) })
        {
            using var group = file.AppendRowGroup();
            using (var w = group.NextColumn().LogicalWriter<string>()) w.WriteBatch(texts[start..end]!); // nulls are allowed: the column is optional
            using (var w = group.NextColumn().LogicalWriter<int?>()) w.WriteBatch([.. Enumerable.Range(start, end - start).Select(i => i % 7 == 0 ? (int?)null : labels[i])]);
            using (var w = group.NextColumn().LogicalWriter<double>()) w.WriteBatch(scores[start..end]);
            using (var w = group.NextColumn().LogicalWriter<bool>()) w.WriteBatch(flags[start..end]);
        }
        file.Close();
    }
}
