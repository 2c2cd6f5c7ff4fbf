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

    /// <summary>
    /// Stop with a <see cref="NonFiniteLossException"/> (naming the epoch, batch and step) when a training step's loss is
    /// NaN or infinite, before its gradients reach the weights (default true). False trains on, as a raw loop would.
    /// </summary>
    public bool StopOnNonFiniteLoss { get; init; } = true;

    /// <summary>Validate at the end of every N-th epoch (default 1).</summary>
    public int CheckValEveryNEpochs { get; init; } = 1;

    /// <summary>Use at most this many training batches per epoch; null: all.</summary>
    public int? LimitTrainBatches { get; init; }

    /// <summary>Use at most this many validation (and test) batches; null: all.</summary>
    public int? LimitValBatches { get; init; }

    /// <summary>Seed for torch's global generator, set when the trainer starts; null leaves it alone.</summary>
    public long? Seed { get; init; }

    /// <summary>
    /// When true and <see cref="Seed"/> is null, the trainer seeds torch's global generator with 0 when it starts
    /// (<c>Fit</c>, <c>Validate</c>, <c>Test</c>, <c>Predict</c>), so dropout and other random ops draw the same numbers
    /// run after run; with a <see cref="Seed"/> it changes nothing. That is all it does: it does not call
    /// <c>torch.use_deterministic_algorithms</c> (process-wide; an application that wants it calls it itself), does not
    /// fix the thread count (see <see cref="Threads"/>) and does not seed data loaders (they take their own seed).
    /// Default false. On the CPU, libtorch's kernels give the same results for the same inputs and thread count; on
    /// CUDA some kernels (atomic adds, cuDNN algorithm choice) can still differ between runs.
    /// </summary>
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

    /// <summary>Metric loggers (CSV, TensorBoard, ...). One that throws is reported and disabled; the run goes on (see <see cref="Trainer.FailedLoggers"/>).</summary>
    public IReadOnlyList<IMetricsLogger> Loggers { get; init; } = [];

    /// <summary>
    /// How the run is spread over processes: <see cref="SingleProcessStrategy"/> (default) or a
    /// <see cref="Distributed.DataParallelStrategy"/> over an MPI process group. With more than one process only rank 0
    /// logs and writes checkpoints.
    /// </summary>
    public TrainingStrategy Strategy { get; init; } = SingleProcessStrategy.Instance;

    /// <summary>
    /// Numeric precision of training (Lightning's names): <c>32-true</c> (default, everything fp32) or <c>bf16-mixed</c>:
    /// layers compute forward and backward with bf16 copies of their weights (normalization layers stay fp32), while fp32
    /// master weights, fp32 gradients and fp32 optimizer state are what the optimizer steps, clipping sees and checkpoints
    /// and saved models hold. The training module's direct <c>Module&lt;Tensor, Tensor&gt;</c> children get bf16 inputs and
    /// return fp32 outputs, so a loss computed from them is fp32. Applies to <c>Fit</c> (its validation included); after
    /// <c>Fit</c> the module holds the fp32 masters. Any other name makes the <see cref="Trainer"/> constructor throw an
    /// <see cref="ArgumentException"/>.
    /// </summary>
    public string Precision { get; init; } = "32-true";

    /// <summary>The names <see cref="Precision"/> accepts.</summary>
    public static IReadOnlyList<string> PrecisionNames { get; } = ["32-true", "bf16-mixed"];

    /// <summary>Where the trainer writes warnings, such as a logger it disabled after it threw; null: standard error.</summary>
    public TextWriter? ErrorOutput { get; init; }
}
