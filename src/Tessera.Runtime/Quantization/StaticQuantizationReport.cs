namespace Tessera.Runtime.Quantization;

/// <summary>What <see cref="StaticQuantizer.Quantize"/> did.</summary>
public sealed record StaticQuantizationReport
{
    /// <summary>Names of the Conv/Gemm/MatMul nodes that got int8 weights and quantized activations.</summary>
    public required IReadOnlyList<string> QuantizedNodes { get; init; }

    /// <summary>Conv/Gemm/MatMul nodes left in float, each with the reason ("fc: excluded").</summary>
    public required IReadOnlyList<string> SkippedNodes { get; init; }

    /// <summary>Activation tensors that got a QuantizeLinear/DequantizeLinear pair.</summary>
    public required int QuantizedActivations { get; init; }

    /// <summary>Calibration method used.</summary>
    public required CalibrationMethod Method { get; init; }

    /// <summary>Calibration samples run (the batch dimension summed over the calibration batches).</summary>
    public required long CalibrationSamples { get; init; }

    /// <summary>Per-layer error against the float model, in graph order.</summary>
    public required IReadOnlyList<LayerError> LayerErrors { get; init; }

    /// <summary>Bytes of the input model file.</summary>
    public required long InputFileBytes { get; init; }

    /// <summary>Bytes of the written model file.</summary>
    public required long OutputFileBytes { get; init; }

    /// <summary>Output file size over input file size.</summary>
    public double FileSizeRatio => (double)OutputFileBytes / InputFileBytes;
}
