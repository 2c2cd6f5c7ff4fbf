using Tessera.Data;
using Tessera.Distributed;
using static TorchSharp.torch;

namespace Tessera.Training;

/// <summary>
/// How the <see cref="Trainer"/> spreads a run over processes (Lightning's strategy): the trainer calls these hooks at
/// fixed points of its loop and the strategy does the communication. The default,
/// <see cref="SingleProcessStrategy"/>, does nothing; <see cref="DataParallelStrategy"/> trains one model replica
/// per process on a shard of the data.
/// </summary>
public abstract class TrainingStrategy
{
    /// <summary>The process group the strategy communicates over.</summary>
    public abstract IProcessGroup Group { get; }

    /// <summary>True in the process that logs and writes files (rank 0).</summary>
    public bool IsGlobalZero => Group.Rank == 0;

    /// <summary>The loader this process reads: its shard of <paramref name="loader"/>'s examples.</summary>
    public abstract IDataLoader<TBatch> Shard<TBatch>(IDataLoader<TBatch> loader);

    /// <summary>Called once the module is on its device, before training or evaluation starts.</summary>
    public abstract void Setup(nn.Module module);

    /// <summary>Called after the last backward pass of an optimizer step, before clipping and the step.</summary>
    public abstract void ReduceGradients(IReadOnlyList<Tensor> parameters);

    /// <summary>Called before evaluation and at the end of training: makes buffers (batch-norm statistics) agree.</summary>
    public abstract void SyncBuffers(nn.Module module);

    /// <summary>Replaces each metric by its mean over the processes (every process passes the same keys).</summary>
    public abstract void ReduceMetrics(IDictionary<string, double> metrics);

    /// <summary>True when any process asked to stop, so that all stop at the same batch.</summary>
    public abstract bool AnyStop(bool stop);

    /// <summary>Called when the run failed in this process: ends the others rather than leaving them waiting.</summary>
    public abstract void OnFailure(Exception error);

    /// <summary>
    /// Called at the end of training: checks that every process holds the same module state (weights, buffers and any
    /// averaged copy such as an EMA). Does nothing in one process.
    /// </summary>
    /// <exception cref="DistributedException">The processes' states differ.</exception>
    public virtual void CheckReplicas(nn.Module module) { }
}

/// <summary>One process: every hook leaves things as they are.</summary>
public sealed class SingleProcessStrategy : TrainingStrategy
{
    /// <summary>The shared instance.</summary>
    public static SingleProcessStrategy Instance { get; } = new();

    /// <inheritdoc />
    public override IProcessGroup Group => SingleProcessGroup.Instance;

    /// <inheritdoc />
    public override IDataLoader<TBatch> Shard<TBatch>(IDataLoader<TBatch> loader) => loader;

    /// <inheritdoc />
    public override void Setup(nn.Module module) { }

    /// <inheritdoc />
    public override void ReduceGradients(IReadOnlyList<Tensor> parameters) { }

    /// <inheritdoc />
    public override void SyncBuffers(nn.Module module) { }

    /// <inheritdoc />
    public override void ReduceMetrics(IDictionary<string, double> metrics) { }

    /// <inheritdoc />
    public override bool AnyStop(bool stop) => stop;

    /// <inheritdoc />
    public override void OnFailure(Exception error) { }
}
