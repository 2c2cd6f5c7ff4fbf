namespace Tessera.Training;

/// <summary>How a <see cref="Trainer"/> runs. Every property has a default, so <c>new TrainerOptions()</c> trains for 10 epochs on the CPU.</summary>
public sealed record TrainerOptions
{
    /// <summary>Stop after this many epochs (default 10). Null: only <see cref="MaxSteps"/> limits the run.</summary>
    public int? MaxEpochs { get; init; } = 10;

    /// <summary>Stop after this many optimizer steps; null for no step limit.</summary>
    public long? MaxSteps { get; init; }

    /// <summary>Accumulate gradients over this many batches per optimizer step (default 1).</summary>
    public int AccumulateGradBatches { get; init; } = 1;

    /// <summary>Clip the global L2 norm of gradients to this value before each optimizer step; null: no clipping.</summary>
    public double? GradientClipNorm { get; init; }

    /// <summary>Also validate every this many training batches within an epoch; null: only at epoch ends.</summary>
    public int? ValCheckIntervalBatches { get; init; }

    /// <summary>Validate at the end of every N-th epoch (default 1).</summary>
    public int CheckValEveryNEpochs { get; init; } = 1;

    /// <summary>Use at most this many training batches per epoch; null: all.</summary>
    public int? LimitTrainBatches { get; init; }

    /// <summary>Use at most this many validation (and test) batches; null: all.</summary>
    public int? LimitValBatches { get; init; }

    /// <summary>Seed for torch's global generator, set when the trainer starts; null leaves it alone.</summary>
    public long? Seed { get; init; }

    /// <summary>Ask libtorch for deterministic algorithms (slower; errors on ops that have none).</summary>
    public bool Deterministic { get; init; }

    /// <summary>Device to train on: <c>cpu</c>, <c>cuda</c>, <c>cuda:N</c> or <c>auto</c> (cuda when available).</summary>
    public string Device { get; init; } = "cpu";

    /// <summary>
    /// Intra-op threads for libtorch; null leaves libtorch's default. Setting it is process-wide: the Trainer calls
    /// <c>torch.set_num_threads</c>, which also becomes the count every thread started later uses, and it stays after
    /// the run.
    /// </summary>
    public int? Threads { get; init; }

    /// <summary>Send step metrics to the loggers every this many optimizer steps (default 50).</summary>
    public int LogEveryNSteps { get; init; } = 50;

    /// <summary>Callbacks, called in this order.</summary>
    public IReadOnlyList<Callback> Callbacks { get; init; } = [];

    /// <summary>Metric loggers (CSV, TensorBoard, ...).</summary>
    public IReadOnlyList<IMetricsLogger> Loggers { get; init; } = [];
}
