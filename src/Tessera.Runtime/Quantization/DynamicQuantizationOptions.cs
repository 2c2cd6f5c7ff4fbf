namespace Tessera.Runtime.Quantization;

/// <summary>Options for <see cref="DynamicQuantizer"/>. Every default is the one a user wants without thinking.</summary>
public sealed record DynamicQuantizationOptions
{
    /// <summary>The operators quantized nodes are rewritten to. Default: <see cref="DynamicQuantizer.DefaultForm"/>.</summary>
    public QuantizedMatMulForm Form { get; init; } = DynamicQuantizer.DefaultForm;

    /// <summary>
    /// Weights with fewer elements than this stay float (quantizing a tiny matrix costs more than it saves).
    /// Default 0: every eligible weight is quantized.
    /// </summary>
    public long MinimumWeightElements { get; init; }

    /// <summary>Names of MatMul/Gemm nodes (or of their outputs) to leave in float, e.g. a sensitive classifier head.</summary>
    public IReadOnlySet<string> ExcludedNodes { get; init; } = new HashSet<string>();

    /// <summary>Weights per scale along K for <see cref="QuantizedMatMulForm.MatMulNBits"/>: a power of two, at least 16. Default 128.</summary>
    public int BlockSize { get; init; } = 128;

    /// <summary>
    /// Also quantize a weight that another node reads in float (a tied embedding: GPT-2's wte feeds Gather and the
    /// head). Off by default: the float table must stay for the Gather, so the int8 copy makes the file larger. On, the
    /// head reads int8 per token instead of float: faster token-by-token decoding, at about 1.2x the file size.
    /// </summary>
    public bool QuantizeSharedWeights { get; init; }
}
