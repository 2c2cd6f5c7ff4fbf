namespace Tessera.Hub.Datasets;

/// <summary>One row of a <see cref="DatasetBatch"/>.</summary>
public readonly struct DatasetRow
{
    readonly DatasetBatch batch;
    readonly int row;

    internal DatasetRow(DatasetBatch batch, int row)
    {
        this.batch = batch;
        this.row = row;
    }

    /// <summary>The data file the row comes from.</summary>
    public string File => batch.File;

    /// <summary>The row number in the file, from 0.</summary>
    public long RowNumber => batch.FirstRow + row;

    /// <summary>A text value (a <see cref="DatasetColumnType.String"/> or <see cref="DatasetColumnType.Label"/> column); null where the file has a null.</summary>
    public string? GetString(string column) => batch.Strings(column)[row];

    /// <summary>An integer value; null where the file has a null.</summary>
    public long? GetInt64(string column) => batch.Int64s(column)[row];

    /// <summary>A real value; null where the file has a null.</summary>
    public double? GetDouble(string column) => batch.Doubles(column)[row];

    /// <summary>A boolean value; null where the file has a null.</summary>
    public bool? GetBoolean(string column) => batch.Booleans(column)[row];

    /// <summary>The value of <paramref name="column"/>, boxed.</summary>
    public object? this[string column] => batch[row, column];
}
