namespace Tessera.Runtime;

/// <summary>
/// An ONNX model file cannot be loaded: it is missing, truncated, not ONNX at all, or needs an operator or opset
/// that this ONNX Runtime lacks. The message names the file (and the operator or opset when that is the cause);
/// the ONNX Runtime error, when there is one, is the <see cref="Exception.InnerException"/>.
/// </summary>
public class OnnxModelException : TesseraRuntimeException
{
    /// <summary>Creates the exception for <paramref name="path"/>.</summary>
    public OnnxModelException(string path, string message, Exception? inner = null)
        : base($"{path}: {message}", inner) => FilePath = path;

    /// <summary>The model file (or folder) that failed to load.</summary>
    public string FilePath { get; }
}
