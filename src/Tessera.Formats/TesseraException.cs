namespace Tessera;

/// <summary>
/// The base of every error Tessera raises on purpose: a file that does not follow its format, a model or dataset that
/// is missing, a hub request that failed, an export or quantization that cannot be done. The message says what was
/// expected and where (file, field, module); it is meant to be shown to a user as is. Any other exception type that
/// escapes Tessera is a bug. Catch this type to handle all of Tessera's expected failures at once.
/// </summary>
public class TesseraException : Exception
{
    /// <summary>Creates the exception with <paramref name="message"/> and an optional cause.</summary>
    public TesseraException(string message, Exception? inner = null) : base(message, inner) { }
}
