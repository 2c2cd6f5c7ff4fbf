namespace Tessera.Export.Encoders;

/// <summary>What <see cref="EncoderOnnxExporter.Export"/> wrote and how closely ONNX Runtime matched TorchSharp.</summary>
/// <param name="ModelPath">Full path of <c>model.onnx</c>.</param>
/// <param name="ExternalDataPath">Full path of the external weights file, or null.</param>
/// <param name="OutputNames">The graph's outputs (<c>last_hidden_state</c> [+ <c>pooler_output</c>], or <c>logits</c>).</param>
/// <param name="MaxAbs">Largest difference over the outputs on a padded batch of two, or null when not verified.</param>
/// <param name="CopiedFiles">Names of the files written or copied beside the model (config, tokenizer).</param>
public sealed record EncoderExportReport(string ModelPath, string? ExternalDataPath, IReadOnlyList<string> OutputNames, double? MaxAbs, IReadOnlyList<string> CopiedFiles);
