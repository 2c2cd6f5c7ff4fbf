namespace Tessera.Runtime.Quantization;

/// <summary>
/// A model cannot be quantized as asked: it is already quantized, it has nothing to quantize, or it uses a form the
/// quantizer does not handle.
/// </summary>
public class QuantizationException : TesseraRuntimeException
{
    /// <summary>Creates the exception for <paramref name="path"/> (the model file, when there is one).</summary>
    public QuantizationException(string? path, string message, Exception? inner = null)
        : base(path is null ? message : $"{path}: {message}", inner) => FilePath = path;

    /// <summary>The model file the error is about, when there is one.</summary>
    public string? FilePath { get; }
}
