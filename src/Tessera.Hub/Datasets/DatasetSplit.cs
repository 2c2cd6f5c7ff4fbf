using Tessera.Formats;

namespace Tessera.Hub.Datasets;

/// <summary>One split of a <see cref="HubDataset"/> (<c>train</c>, <c>validation</c>, <c>test</c>, ...): its data files in order.</summary>
public sealed class DatasetSplit
{
    /// <summary>Rows per batch for JSON Lines and CSV files when not given (Parquet batches are its row groups).</summary>
    public const int DefaultBlockRows = 1024;

    internal DatasetSplit(string name, IReadOnlyList<string> files)
    {
        Name = name;
        Files = files;
    }

    /// <summary>The split's name.</summary>
    public string Name { get; }

    /// <summary>Full paths of the data files (<c>.parquet</c>, <c>.jsonl</c>, <c>.csv</c>), in path order.</summary>
    public IReadOnlyList<string> Files { get; }

    /// <summary>
    /// Streams the split as batches: one per Parquet row group, or per <paramref name="blockRows"/> rows of a JSON Lines
    /// or CSV file. At most one batch of one file is in memory at a time; files are opened lazily, in order.
    /// </summary>
    /// <param name="columns">The columns to read and the types expected of them.</param>
    /// <param name="blockRows">Rows per batch for JSON Lines and CSV.</param>
    /// <exception cref="TesseraFormatException">
    /// A file is malformed or truncated, lacks a column (the message lists those it has), or a column holds another
    /// type than expected; the message names the file, the column and where.
    /// </exception>
    public IEnumerable<DatasetBatch> ReadBatches(IReadOnlyList<DatasetColumn> columns, int blockRows = DefaultBlockRows)
    {
        ArgumentNullException.ThrowIfNull(columns);
        ArgumentOutOfRangeException.ThrowIfLessThan(blockRows, 1);
        if (columns.Count == 0) throw new ArgumentException("ask for at least one column", nameof(columns));
        if (columns.Select(c => c.Name).Distinct(StringComparer.Ordinal).Count() != columns.Count)
            throw new ArgumentException("a column is asked for twice", nameof(columns));
        return Batches(columns, blockRows);
    }

    IEnumerable<DatasetBatch> Batches(IReadOnlyList<DatasetColumn> columns, int blockRows)
    {
        foreach (string file in Files)
        {
            IEnumerable<DatasetBatch> batches = HubDataset.FormatOf(file) switch
            {
                DatasetFileFormat.Parquet => ParquetBatchReader.Read(file, columns),
                DatasetFileFormat.JsonLines => JsonLinesBatchReader.Read(file, columns, blockRows),
                _ => CsvBatchReader.Read(file, columns, blockRows),
            };
            foreach (var batch in batches) yield return batch;
        }
    }

    /// <summary>Streams the split row by row (see <see cref="ReadBatches"/>).</summary>
    /// <exception cref="TesseraFormatException">See <see cref="ReadBatches"/>.</exception>
    public IEnumerable<DatasetRow> ReadRows(params DatasetColumn[] columns) => ReadBatches(columns).SelectMany(b => b.Rows());

    /// <inheritdoc/>
    public override string ToString() => $"{Name} ({Files.Count} file{(Files.Count == 1 ? "" : "s")})";
}
