namespace Tessera.Hub.Datasets;

/// <summary>Collects up to a fixed number of rows of typed values for the row-oriented formats (JSON Lines, CSV).</summary>
internal sealed class BlockBuilder
{
    readonly string path;
    readonly IReadOnlyList<DatasetColumn> columns;
    readonly int capacity;
    Array[] values;
    int blockIndex;
    long firstRow;

    public BlockBuilder(string path, IReadOnlyList<DatasetColumn> columns, int capacity)
    {
        this.path = path;
        this.columns = columns;
        this.capacity = capacity;
        values = NewArrays();
    }

    /// <summary>Rows complete so far in this block.</summary>
    public int Count { get; private set; }

    public bool Full => Count == capacity;

    public void SetString(int column, string? value) => ((string?[])values[column])[Count] = value;

    public void SetInt64(int column, long? value) => ((long?[])values[column])[Count] = value;

    public void SetDouble(int column, double? value) => ((double?[])values[column])[Count] = value;

    public void SetBoolean(int column, bool? value) => ((bool?[])values[column])[Count] = value;

    /// <summary>Ends the current row.</summary>
    public void EndRow() => Count++;

    /// <summary>The rows collected so far as a batch; the builder starts the next block.</summary>
    public DatasetBatch Take()
    {
        var arrays = values;
        if (Count < capacity)
            for (int c = 0; c < arrays.Length; c++)
            {
                var trimmed = Array.CreateInstance(arrays[c].GetType().GetElementType()!, Count);
                Array.Copy(arrays[c], trimmed, Count);
                arrays[c] = trimmed;
            }
        var batch = new DatasetBatch(path, blockIndex++, firstRow, Count, columns, arrays);
        firstRow += Count;
        Count = 0;
        values = NewArrays();
        return batch;
    }

    Array[] NewArrays() => [.. columns.Select(c => c.Type switch
    {
        DatasetColumnType.Int64 => new long?[capacity],
        DatasetColumnType.Double => new double?[capacity],
        DatasetColumnType.Boolean => new bool?[capacity],
        _ => (Array)new string?[capacity],
    })];
}
