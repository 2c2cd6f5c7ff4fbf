namespace Tessera.Hub.Datasets;

/// <summary>
/// Consecutive rows of one data file, column by column: one Parquet row group, or a block of JSON Lines / CSV
/// records. Values are <see cref="string"/> for <see cref="DatasetColumnType.String"/> and
/// <see cref="DatasetColumnType.Label"/>, <see cref="long"/>, <see cref="double"/> or <see cref="bool"/> otherwise;
/// null where the file has a null.
/// </summary>
public sealed class DatasetBatch
{
    readonly Dictionary<string, int> index;
    readonly Array[] values;

    internal DatasetBatch(string file, int blockIndex, long firstRow, int count, IReadOnlyList<DatasetColumn> columns, Array[] values)
    {
        File = file;
        BlockIndex = blockIndex;
        FirstRow = firstRow;
        Count = count;
        Columns = columns;
        this.values = values;
        index = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int i = 0; i < columns.Count; i++) index[columns[i].Name] = i;
    }

    /// <summary>The data file the rows come from.</summary>
    public string File { get; }

    /// <summary>The row group (Parquet) or block (JSON Lines, CSV) of the file, from 0.</summary>
    public int BlockIndex { get; }

    /// <summary>The row number in the file of the first row, from 0.</summary>
    public long FirstRow { get; }

    /// <summary>The number of rows.</summary>
    public int Count { get; }

    /// <summary>The columns read, in the order asked for.</summary>
    public IReadOnlyList<DatasetColumn> Columns { get; }

    /// <summary>A string column (<see cref="DatasetColumnType.String"/> or <see cref="DatasetColumnType.Label"/>).</summary>
    /// <exception cref="ArgumentException">The column was not read, or not as text.</exception>
    public string?[] Strings(string column) => Get<string?>(column, DatasetColumnType.String, DatasetColumnType.Label);

    /// <summary>An <see cref="DatasetColumnType.Int64"/> column.</summary>
    /// <exception cref="ArgumentException">The column was not read, or not as integers.</exception>
    public long?[] Int64s(string column) => Get<long?>(column, DatasetColumnType.Int64);

    /// <summary>A <see cref="DatasetColumnType.Double"/> column.</summary>
    /// <exception cref="ArgumentException">The column was not read, or not as numbers.</exception>
    public double?[] Doubles(string column) => Get<double?>(column, DatasetColumnType.Double);

    /// <summary>A <see cref="DatasetColumnType.Boolean"/> column.</summary>
    /// <exception cref="ArgumentException">The column was not read, or not as booleans.</exception>
    public bool?[] Booleans(string column) => Get<bool?>(column, DatasetColumnType.Boolean);

    /// <summary>The value in <paramref name="column"/> of row <paramref name="row"/> of this batch, boxed.</summary>
    public object? this[int row, string column] => values[Index(column)].GetValue(row);

    /// <summary>The rows one by one.</summary>
    public IEnumerable<DatasetRow> Rows()
    {
        for (int i = 0; i < Count; i++) yield return new DatasetRow(this, i);
    }

    T[] Get<T>(string column, params DatasetColumnType[] allowed)
    {
        int i = Index(column);
        if (!allowed.Contains(Columns[i].Type))
            throw new ArgumentException($"column \"{column}\" was read as {Columns[i].Type}, not {string.Join(" or ", allowed)}", nameof(column));
        return (T[])values[i];
    }

    int Index(string column) => index.TryGetValue(column, out int i) ? i
        : throw new ArgumentException($"column \"{column}\" was not read; the batch has: {string.Join(", ", Columns.Select(c => $"\"{c.Name}\""))}", nameof(column));
}
