using Tessera.Data;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Tessera.Training;

/// <summary>
/// The part of a training module the <see cref="Trainer"/> and callbacks see regardless of batch type:
/// a TorchSharp module that can log metrics from inside its steps.
/// </summary>
public abstract class TrainingModuleBase : nn.Module
{
    /// <summary>Creates the module; subclasses hold submodules in fields and call <c>RegisterComponents()</c>.</summary>
    protected TrainingModuleBase(string name) : base(name) { }

    /// <summary>The trainer running this module, while one is.</summary>
    public Trainer? Trainer { get; internal set; }

    internal MetricCollector? Collector { get; set; }

    // Set by a precision plugin while Fit runs: a layer's bf16 working copy (by handle) -> its fp32 master weight.
    internal IReadOnlyDictionary<IntPtr, Parameter>? MasterWeights { get; set; }

    /// <summary>
    /// The module's parameters. While a <c>bf16-mixed</c> <c>Fit</c> runs (<see cref="TrainerOptions.Precision"/>), the
    /// layers compute with bf16 copies and this yields the fp32 master weights in their place: those are what the
    /// optimizer steps and what <c>state_dict()</c> and checkpoints hold. Submodules' own <c>named_parameters</c> still
    /// show the bf16 copies.
    /// </summary>
    public override IEnumerable<(string name, Parameter parameter)> named_parameters(bool recurse = true)
    {
        var masters = MasterWeights;
        foreach (var (name, p) in base.named_parameters(recurse))
            yield return masters is not null && masters.TryGetValue(p.Handle, out var master) ? (name, master) : (name, p);
    }

    /// <summary>
    /// Records a scalar metric from inside a step. Training metrics are logged every step; validation and test
    /// metrics are averaged over the epoch (weighted by <paramref name="batchSize"/>).
    /// </summary>
    /// <param name="name">Metric name, e.g. <c>train_loss</c> or <c>val_acc</c>.</param>
    /// <param name="value">The value for this batch.</param>
    /// <param name="batchSize">Weight of this value in the epoch mean.</param>
    /// <param name="progressBar">Show it in the progress display.</param>
    /// <param name="onEpoch">For training metrics, also log the epoch mean as <c>{name}_epoch</c>.</param>
    protected void Log(string name, double value, long batchSize = 1, bool progressBar = false, bool onEpoch = false) =>
        Collector?.Add(name, value, batchSize, progressBar, onEpoch);

    /// <summary>Records a scalar tensor metric; see <see cref="Log(string, double, long, bool, bool)"/>.</summary>
    protected void Log(string name, Tensor value, long batchSize = 1, bool progressBar = false, bool onEpoch = false) =>
        Log(name, value.detach().cpu().to_type(ScalarType.Float64).item<double>(), batchSize, progressBar, onEpoch);

    /// <summary>Creates the optimizer (and optionally the LR schedule) for this module's trainable parameters.</summary>
    public abstract OptimizerConfig ConfigureOptimizers();

    /// <summary>
    /// Submodules that mixed precision leaves entirely in fp32: ones the module holds but does not train through, such
    /// as an exponential moving average of the weights (averaged in bf16 it would stop moving). Empty by default.
    /// </summary>
    public virtual IEnumerable<nn.Module> FullPrecisionModules => [];

    /// <summary>Hyperparameters recorded by loggers and in checkpoints; override to report yours.</summary>
    public virtual IReadOnlyDictionary<string, object?> Hyperparameters => new Dictionary<string, object?>();
}

/// <summary>
/// What the user writes to train a model (Lightning's LightningModule): the steps and the optimizer.
/// The <see cref="Trainer"/> owns the loop, devices, checkpoints and everything optional.
/// </summary>
/// <typeparam name="TBatch">The batch type the data loaders produce.</typeparam>
public abstract class TrainingModule<TBatch> : TrainingModuleBase
{
    /// <inheritdoc />
    protected TrainingModule(string name) : base(name) { }

    /// <summary>Computes the loss for one training batch; the trainer runs backward and the optimizer.</summary>
    public abstract Tensor TrainingStep(TBatch batch, int batchIndex);

    /// <summary>Evaluates one validation batch; log metrics with <c>Log</c>. Runs without gradients in eval mode.</summary>
    public virtual void ValidationStep(TBatch batch, int batchIndex) { }

    /// <summary>Evaluates one test batch. Defaults to <see cref="ValidationStep"/> with metrics renamed by the caller's stage.</summary>
    public virtual void TestStep(TBatch batch, int batchIndex) => ValidationStep(batch, batchIndex);

    /// <summary>Produces predictions for one batch (default: not supported).</summary>
    public virtual Tensor PredictStep(TBatch batch, int batchIndex) =>
        throw new NotSupportedException($"{GetType().Name} does not override PredictStep");

    /// <summary>Moves a batch to <paramref name="device"/>. The default handles <see cref="Batch"/>; override for other types.</summary>
    public virtual TBatch TransferBatchToDevice(TBatch batch, Device device) =>
        batch is Batch b ? (TBatch)(object)b.To(device) : batch;
}

/// <summary>A training module over the standard (inputs, targets) <see cref="Batch"/>.</summary>
public abstract class TrainingModule : TrainingModule<Batch>
{
    /// <inheritdoc />
    protected TrainingModule(string name) : base(name) { }
}
