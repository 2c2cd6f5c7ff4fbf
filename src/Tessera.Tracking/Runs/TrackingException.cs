namespace Tessera.Tracking.Runs;

/// <summary>A runs store that cannot be opened or used as asked: a newer schema, an unknown run, a changed parameter.</summary>
public sealed class TrackingException : TesseraException
{
    /// <summary>Creates the exception with <paramref name="message"/> and an optional cause.</summary>
    public TrackingException(string message, Exception? inner = null) : base(message, inner) { }
}
