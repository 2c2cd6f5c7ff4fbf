namespace Tessera.Runtime.Quantization;

/// <summary>What <see cref="DynamicQuantizer.Quantize"/> did: nodes rewritten and sizes before and after.</summary>
public sealed record QuantizationReport
{
    /// <summary>The form quantized nodes were rewritten to.</summary>
    public required QuantizedMatMulForm Form { get; init; }

    /// <summary>Names (or output names, for unnamed nodes) of the MatMul/Gemm nodes that were quantized.</summary>
    public required IReadOnlyList<string> QuantizedNodes { get; init; }

    /// <summary>MatMul/Gemm nodes left in float, each with the reason (e.g. "weight is not an initializer").</summary>
    public required IReadOnlyList<string> SkippedNodes { get; init; }

    /// <summary>Bytes of all initializers (weights, biases, constants) before quantization.</summary>
    public required long WeightBytesBefore { get; init; }

    /// <summary>Bytes of all initializers after quantization (int8 weights, scales, untouched tensors).</summary>
    public required long WeightBytesAfter { get; init; }

    /// <summary>Size of the input model file (plus its external data files, if any).</summary>
    public required long InputFileBytes { get; init; }

    /// <summary>Size of the written model file.</summary>
    public required long OutputFileBytes { get; init; }

    /// <summary>Number of MatMul/Gemm nodes quantized.</summary>
    public int NodesQuantized => QuantizedNodes.Count;

    /// <summary><see cref="OutputFileBytes"/> / <see cref="InputFileBytes"/>.</summary>
    public double FileSizeRatio => InputFileBytes == 0 ? 0 : (double)OutputFileBytes / InputFileBytes;
}
