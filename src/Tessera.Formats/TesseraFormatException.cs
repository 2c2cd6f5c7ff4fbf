namespace Tessera.Formats;

/// <summary>A file does not follow the format it claims; the message names the file and the field.</summary>
public class TesseraFormatException : TesseraException
{
    /// <summary>Creates the exception for <paramref name="path"/> with a message that says what was expected.</summary>
    public TesseraFormatException(string? path, string message, Exception? inner = null)
        : base(path is null ? message : $"{path}: {message}", inner) => FilePath = path;

    /// <summary>The offending file, when there is one.</summary>
    public string? FilePath { get; }
}
