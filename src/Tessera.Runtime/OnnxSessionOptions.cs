namespace Tessera.Runtime;

/// <summary>How an <see cref="OnnxModel"/> sets up its ONNX Runtime session. Immutable; the defaults suit a CPU server.</summary>
public sealed record OnnxSessionOptions
{
    /// <summary>Threads used inside one operator (a MatMul or Conv); 0 lets ONNX Runtime pick (one per physical core).</summary>
    public int IntraOpThreads { get; init; }

    /// <summary>Threads that run independent branches when <see cref="ExecutionMode"/> is <see cref="Runtime.ExecutionMode.Parallel"/>; 0 lets ONNX Runtime pick.</summary>
    public int InterOpThreads { get; init; }

    /// <summary>Graph rewrites applied at load time. Default <see cref="Runtime.GraphOptimizationLevel.All"/>.</summary>
    public GraphOptimizationLevel GraphOptimizationLevel { get; init; } = GraphOptimizationLevel.All;

    /// <summary>
    /// Where to keep the optimized graph on disk (ONNX Runtime's <c>optimized_model_filepath</c>), or null for no cache.
    /// The first load optimizes the model and writes it here with a stamp file (<c>.stamp</c> beside it) recording
    /// the source file's size, modification time and SHA-256; later loads whose source matches the stamp load the
    /// optimized graph directly and skip optimization. A stale or unreadable cache is rebuilt.
    /// </summary>
    public string? OptimizedModelCachePath { get; init; }

    /// <summary>
    /// Whether ONNX Runtime's intra-op threads spin between operators (its default, true). False makes them sleep at
    /// once: slightly slower runs, but no CPU burnt between runs, which matters when the same cores also serve HTTP.
    /// </summary>
    public bool AllowSpinning { get; init; } = true;

    /// <summary>Sequential (default) or parallel execution of independent graph branches.</summary>
    public ExecutionMode ExecutionMode { get; init; } = ExecutionMode.Sequential;

    /// <summary>
    /// When set, ONNX Runtime records the time of every operator call and writes a Chrome-trace JSON file whose name
    /// starts with this prefix (a path) when the session is disposed. For finding where inference time goes.
    /// </summary>
    public string? ProfileFilePrefix { get; init; }
}
