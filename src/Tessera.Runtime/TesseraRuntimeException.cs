namespace Tessera.Runtime;

/// <summary>Base type for errors raised by Tessera.Runtime; the message says what was expected and where.</summary>
public class TesseraRuntimeException : TesseraException
{
    /// <summary>Creates the exception with <paramref name="message"/> and an optional cause.</summary>
    public TesseraRuntimeException(string message, Exception? inner = null) : base(message, inner) { }
}
