namespace Tessera.Export;

/// <summary>Settings of <see cref="ModelExport.Export"/> common to every architecture's exporter.</summary>
public sealed record ModelExportOptions
{
    /// <summary>ONNX opset of graphs built from per-module emitters (image classifiers); at least 17.</summary>
    public int Opset { get; init; } = OnnxGraphBuilder.DefaultOpset;

    /// <summary>Whether the graph is run in ONNX Runtime against TorchSharp before it is moved into place.</summary>
    public bool Verify { get; init; } = true;

    /// <summary>GPT-2 decoders: write attention as ONNX Runtime's contrib MultiHeadAttention (runs only on ONNX Runtime).</summary>
    public bool OrtFusedAttention { get; init; }
}
