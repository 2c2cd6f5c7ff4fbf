namespace Tessera.Runtime;

/// <summary>How much ONNX Runtime rewrites the graph before running it (ORT's graph optimization levels).</summary>
public enum GraphOptimizationLevel
{
    /// <summary>No rewrites: run the graph as written.</summary>
    None,
    /// <summary>Semantics-preserving rewrites that apply everywhere: constant folding, redundant node removal.</summary>
    Basic,
    /// <summary>Basic plus fusions of common patterns (Gemm+activation, LayerNorm, GELU, attention).</summary>
    Extended,
    /// <summary>Extended plus layout optimizations for this CPU (for example NCHWc convolutions). The default.</summary>
    All,
}
