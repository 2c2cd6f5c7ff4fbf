namespace Tessera.Data;

/// <summary>A dataset's files are not where they were looked for; the message names the directory and how to install them.</summary>
public class DatasetNotFoundException : TesseraException
{
    /// <summary>Creates the exception for a dataset missing from <paramref name="directory"/>.</summary>
    public DatasetNotFoundException(string directory, string message, Exception? inner = null)
        : base(message, inner) => Directory = directory;

    /// <summary>The directory that was searched.</summary>
    public string Directory { get; }
}
