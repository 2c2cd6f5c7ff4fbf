namespace Tessera.Hub.Datasets;

/// <summary>The data file formats a <see cref="HubDataset"/> reads, known by file extension.</summary>
public enum DatasetFileFormat
{
    /// <summary><c>.parquet</c>.</summary>
    Parquet,

    /// <summary><c>.jsonl</c> (or gzipped, <c>.jsonl.gz</c>): one JSON object per line.</summary>
    JsonLines,

    /// <summary><c>.csv</c> (or gzipped, <c>.csv.gz</c>) with a header row.</summary>
    Csv,
}
