namespace Tessera.Export;

/// <summary>Options for <see cref="Decoders.DecoderOnnxExporter.Export"/> and <see cref="Encoders.EncoderOnnxExporter.Export"/>.</summary>
public sealed record TransformerExportOptions
{
    /// <summary>Run sample inputs (for decoders a prefill and a decode step) through TorchSharp and ONNX Runtime before the file is moved into place (default true).</summary>
    public bool Verify { get; init; } = true;

    /// <summary>Largest allowed |TorchSharp − ONNX Runtime| over logits and present keys/values (default 1e-4).</summary>
    public double Tolerance { get; init; } = 1e-4;

    /// <summary>
    /// The model's Hugging Face folder; its <c>config.json</c>, <c>generation_config.json</c>, <c>tokenizer.json</c>,
    /// <c>tokenizer_config.json</c> and friends are copied beside <c>model.onnx</c>. When null, <c>config.json</c> is
    /// written from the model's config and nothing else is copied.
    /// </summary>
    public string? SourceFolder { get; init; }

    /// <summary>
    /// The default-domain ONNX opset the graph declares (default <see cref="OnnxGraphBuilder.DefaultOpset"/>, 17; at
    /// least 17 for LayerNormalization). From 18 on, reductions take their axes as an input, as that opset requires.
    /// </summary>
    public int Opset { get; init; } = OnnxGraphBuilder.DefaultOpset;

    /// <summary>Store weights in <c>model.onnx.data</c>; null (default) does so only past 1.5 GB, below protobuf's 2 GB limit.</summary>
    public bool? ExternalData { get; init; }

    /// <summary>
    /// Write each decoder layer's attention (past concat, scores, mask, softmax, context) as one ONNX Runtime contrib
    /// node, <c>com.microsoft.MultiHeadAttention</c>, instead of ~15 standard operators, and each residual add with the
    /// layer norm after it as one <c>com.microsoft.SkipLayerNormalization</c> (default false). Token-by-token
    /// generation in ONNX Runtime gets faster; the file then runs only on ONNX Runtime and onnx.checker cannot check
    /// it. GPT-2 only (decoders whose key/value heads equal their query heads, with no rotary embedding).
    /// </summary>
    public bool OrtFusedAttention { get; init; }
}
