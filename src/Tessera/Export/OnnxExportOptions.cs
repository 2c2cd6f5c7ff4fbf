namespace Tessera.Export;

/// <summary>How <see cref="OnnxExporter"/> names, shapes, checks and writes the exported graph. Every default is stated on its property.</summary>
public sealed record OnnxExportOptions
{
    /// <summary>Name of the graph input. Default <c>input</c>.</summary>
    public string InputName { get; init; } = "input";

    /// <summary>Name of the graph output. Default <c>output</c>.</summary>
    public string OutputName { get; init; } = "output";

    /// <summary>Whether axis 0 of the input and output is the symbolic dimension <c>batch</c>. Default true.</summary>
    public bool DynamicBatch { get; init; } = true;

    /// <summary>
    /// Further symbolic axes, as in <c>torch.onnx.export</c>: value name (input or output) → axis index → dimension
    /// name, e.g. <c>{ "input": { 2: "height", 3: "width" } }</c>. Entries override <see cref="DynamicBatch"/> for
    /// the axes they name. Default none.
    /// </summary>
    public Dictionary<string, Dictionary<int, string>>? DynamicAxes { get; init; }

    /// <summary>Default-domain opset version (at least 17: LayerNormalization). Default 17.</summary>
    public int Opset { get; init; } = OnnxGraphBuilder.DefaultOpset;

    /// <summary>Whether to run the written model in ONNX Runtime and compare it with TorchSharp before putting it in place. Default true.</summary>
    public bool Verify { get; init; } = true;

    /// <summary>Largest allowed absolute difference between ONNX Runtime's and TorchSharp's outputs (allowed: atol + rtol·|reference|). Default 1e-4 (fp32).</summary>
    public double AbsoluteTolerance { get; init; } = 1e-4;

    /// <summary>Relative part of the allowed difference (atol + rtol·|reference|). Default 0: the absolute tolerance alone decides.</summary>
    public double RelativeTolerance { get; init; }

    /// <summary>Batch size of the random verification input run besides the sample (when the batch is dynamic). Default 3 (2 if the sample's batch is 3).</summary>
    public int VerificationBatchSize { get; init; } = 3;

    /// <summary>Seed of the random verification inputs. Default 0.</summary>
    public long Seed { get; init; }

    /// <summary>Extra <c>metadata_props</c> entries; they override the exporter's entries of the same key. Default none.</summary>
    public IReadOnlyDictionary<string, string>? Metadata { get; init; }

    /// <summary>Emitters to use; default <see cref="OnnxEmitterRegistry.CreateDefault"/>.</summary>
    public OnnxEmitterRegistry? Emitters { get; init; }

    /// <summary>
    /// Store initializers in <c>&lt;file&gt;.data</c> beside the model (ONNX external data): true, false, or null
    /// (default) for automatically when the initializers exceed <see cref="ExternalDataThreshold"/>.
    /// </summary>
    public bool? ExternalData { get; init; }

    /// <summary>Initializer bytes above which external data is used automatically. Default 2,000,000,000 (protobuf messages are limited to 2 GiB).</summary>
    public long ExternalDataThreshold { get; init; } = 2_000_000_000;
}
