namespace Tessera.Export;

/// <summary>
/// Implemented by a module that writes its own ONNX graph. The exporter calls <see cref="EmitOnnx"/> instead of
/// looking the module's type up in the <see cref="OnnxEmitterRegistry"/>; the module adds nodes through
/// <see cref="OnnxExportContext.Graph"/>, its weights through <see cref="OnnxExportContext.AddInitializer(string, TorchSharp.torch.Tensor)"/>,
/// and its submodules through <see cref="OnnxExportContext.EmitModule"/>, exactly as the built-in emitters do.
/// </summary>
public interface IOnnxEmitter
{
    /// <summary>Emits the nodes computing this module's forward pass on the value named <paramref name="input"/>.</summary>
    /// <param name="context">The export in progress; its <see cref="OnnxExportContext.Path"/> is this module's path.</param>
    /// <param name="input">The name of the ONNX value the module receives.</param>
    /// <returns>The name of the ONNX value holding the module's output.</returns>
    /// <exception cref="OnnxExportException">The module cannot be expressed in ONNX (use <see cref="OnnxExportContext.Error"/>).</exception>
    string EmitOnnx(OnnxExportContext context, string input);
}
