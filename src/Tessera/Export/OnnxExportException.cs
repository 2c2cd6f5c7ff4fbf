namespace Tessera.Export;

/// <summary>
/// An ONNX export failed: a module has no emitter, a module's configuration has no ONNX equivalent, the graph is
/// inconsistent, or the exported model's outputs differ from TorchSharp's beyond the tolerance.
/// When a module is at fault the message starts with its path in the model, e.g.
/// <c>encoder.blocks.3.attn: MyAttention has no ONNX emitter</c>.
/// </summary>
public class OnnxExportException : TesseraException
{
    /// <summary>Creates the exception with a message that says what went wrong and where.</summary>
    /// <param name="message">The full message.</param>
    /// <param name="modulePath">The dotted path of the offending module (empty for the root), or null when no module is at fault.</param>
    /// <param name="inner">The underlying error, if any.</param>
    public OnnxExportException(string message, string? modulePath = null, Exception? inner = null)
        : base(message, inner) => ModulePath = modulePath;

    /// <summary>The dotted path of the offending module (empty for the root), or null when no single module is at fault.</summary>
    public string? ModulePath { get; }
}
