namespace Tessera.Export.Decoders;

/// <summary>What <see cref="DecoderOnnxExporter.Export"/> wrote and how closely ONNX Runtime matched TorchSharp.</summary>
/// <param name="ModelPath">Full path of <c>model.onnx</c>.</param>
/// <param name="ExternalDataPath">Full path of the external weights file, or null.</param>
/// <param name="NumLayers">Decoder layers (pairs of <c>past_key_values.{i}.key/.value</c> inputs).</param>
/// <param name="KeyValueHeads">Key/value heads per layer (dimension 1 of the past tensors).</param>
/// <param name="HeadDim">Size of one head (dimension 3 of the past tensors).</param>
/// <param name="VocabSize">Last dimension of <c>logits</c>.</param>
/// <param name="PrefillMaxAbs">Largest difference on the prefill (no past), or null when not verified.</param>
/// <param name="DecodeMaxAbs">Largest difference on one decode step with past, or null when not verified.</param>
/// <param name="CopiedFiles">Names of the files written or copied beside the model (config, tokenizer, generation config).</param>
public sealed record DecoderExportReport(
    string ModelPath, string? ExternalDataPath, int NumLayers, int KeyValueHeads, int HeadDim, int VocabSize,
    double? PrefillMaxAbs, double? DecodeMaxAbs, IReadOnlyList<string> CopiedFiles);
