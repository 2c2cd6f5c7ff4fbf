using static TorchSharp.torch;

namespace Tessera.Export;

/// <summary>
/// Emits the ONNX nodes for one module type (registered in an <see cref="OnnxEmitterRegistry"/>): the way to
/// export module types you cannot change to implement <see cref="IOnnxEmitter"/>.
/// </summary>
/// <param name="context">The export in progress; its <see cref="OnnxExportContext.Path"/> is the module's path.</param>
/// <param name="module">The module (of the registered type).</param>
/// <param name="input">The name of the ONNX value the module receives.</param>
/// <returns>The name of the ONNX value holding the module's output.</returns>
public delegate string OnnxModuleEmitter(OnnxExportContext context, nn.Module module, string input);
