namespace Tessera.Hub.Datasets;

/// <summary>What a caller expects a column to hold; a column of another type is an error naming the file and the column.</summary>
public enum DatasetColumnType
{
    /// <summary>Text: a Parquet UTF-8 string column, a JSON string, a CSV field as written.</summary>
    String,

    /// <summary>A whole number: any Parquet integer column, a JSON integer, a CSV field that parses as one.</summary>
    Int64,

    /// <summary>A real number: a Parquet float, double or integer column, a JSON number, a CSV field that parses as one.</summary>
    Double,

    /// <summary>A Parquet boolean column, JSON <c>true</c>/<c>false</c>, a CSV <c>true</c>/<c>false</c>.</summary>
    Boolean,

    /// <summary>
    /// Any scalar (string, integer, real or boolean) read as its invariant text: for labels that are names in one
    /// dataset and class ids in another.
    /// </summary>
    Label,
}
