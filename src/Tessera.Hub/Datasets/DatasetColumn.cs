namespace Tessera.Hub.Datasets;

/// <summary>A column to read by name, and the type the caller expects of it.</summary>
/// <param name="Name">The column (Parquet field, JSON key, CSV header).</param>
/// <param name="Type">The expected type.</param>
public sealed record DatasetColumn(string Name, DatasetColumnType Type)
{
    /// <summary>The name of the type as error messages spell it.</summary>
    internal string Expected => Type switch
    {
        DatasetColumnType.String => "a string",
        DatasetColumnType.Int64 => "an integer",
        DatasetColumnType.Double => "a number",
        DatasetColumnType.Boolean => "a boolean",
        _ => "a string, number or boolean",
    };
}
