namespace Tessera.Export;

/// <summary>What <see cref="OnnxExporter"/> wrote and how closely ONNX Runtime reproduced TorchSharp.</summary>
public sealed record OnnxExportReport
{
    /// <summary>Full path of the written <c>.onnx</c> file.</summary>
    public required string Path { get; init; }

    /// <summary>Full path of the external data file, or null when the weights are inside the model file.</summary>
    public string? ExternalDataPath { get; init; }

    /// <summary>Names of the graph inputs.</summary>
    public required IReadOnlyList<string> InputNames { get; init; }

    /// <summary>Names of the graph outputs.</summary>
    public required IReadOnlyList<string> OutputNames { get; init; }

    /// <summary>Default-domain opset version of the graph.</summary>
    public required int Opset { get; init; }

    /// <summary>Whether ONNX Runtime was run against TorchSharp (<see cref="OnnxExportOptions.Verify"/>).</summary>
    public required bool Verified { get; init; }

    /// <summary>Largest |ORT − TorchSharp| over all verification inputs; NaN when not verified.</summary>
    public double MaxAbsoluteError { get; init; } = double.NaN;

    /// <summary>Largest |ORT − TorchSharp| divided by the largest |TorchSharp| output of the same input; NaN when not verified.</summary>
    public double MaxRelativeError { get; init; } = double.NaN;

    /// <summary>Batch sizes run in the verification (the sample's and a different one when the batch is dynamic).</summary>
    public IReadOnlyList<long> VerifiedBatchSizes { get; init; } = [];

    /// <summary>The <c>metadata_props</c> written into the model.</summary>
    public required IReadOnlyDictionary<string, string> Metadata { get; init; }

    /// <summary>Number of graph nodes.</summary>
    public required int NodeCount { get; init; }

    /// <summary>Total bytes of the initializers (weights).</summary>
    public required long InitializerBytes { get; init; }
}
