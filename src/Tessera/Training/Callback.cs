namespace Tessera.Training;

/// <summary>
/// Base class of everything optional in a run (checkpointing, early stopping, progress, LR monitoring).
/// Override the hooks you need; the trainer calls them in registration order.
/// </summary>
public abstract class Callback
{
    /// <summary>Before the first epoch of <c>Fit</c> (after a resume has been restored).</summary>
    public virtual void OnFitStart(Trainer trainer, TrainingModuleBase module) { }
    /// <summary>After <c>Fit</c> finishes or stops early.</summary>
    public virtual void OnFitEnd(Trainer trainer, TrainingModuleBase module) { }
    /// <summary>At the start of each training epoch.</summary>
    public virtual void OnTrainEpochStart(Trainer trainer, TrainingModuleBase module) { }
    /// <summary>At the end of each training epoch, after any end-of-epoch validation.</summary>
    public virtual void OnTrainEpochEnd(Trainer trainer, TrainingModuleBase module) { }
    /// <summary>Before a training batch's forward pass.</summary>
    public virtual void OnTrainBatchStart(Trainer trainer, TrainingModuleBase module, int batchIndex) { }
    /// <summary>After a training batch; <paramref name="loss"/> is its (unscaled) loss.</summary>
    public virtual void OnTrainBatchEnd(Trainer trainer, TrainingModuleBase module, double loss, int batchIndex, long batchSize) { }
    /// <summary>After gradients are ready, before the optimizer step (and before clipping).</summary>
    public virtual void OnBeforeOptimizerStep(Trainer trainer, TrainingModuleBase module) { }
    /// <summary>Before a validation loop.</summary>
    public virtual void OnValidationStart(Trainer trainer, TrainingModuleBase module) { }
    /// <summary>After a validation loop; epoch metrics are in <see cref="Trainer.CallbackMetrics"/>.</summary>
    public virtual void OnValidationEnd(Trainer trainer, TrainingModuleBase module) { }
    /// <summary>After a test loop.</summary>
    public virtual void OnTestEnd(Trainer trainer, TrainingModuleBase module) { }
    /// <summary>When a run stops because of an exception.</summary>
    public virtual void OnException(Trainer trainer, TrainingModuleBase module, Exception exception) { }

    /// <summary>State to keep in trainer checkpoints (e.g. best score so far); null for none.</summary>
    public virtual IReadOnlyDictionary<string, string>? StateDict() => null;
    /// <summary>Restores what <see cref="StateDict"/> returned.</summary>
    public virtual void LoadStateDict(IReadOnlyDictionary<string, string> state) { }
    /// <summary>Key under which this callback's state is stored; unique per instance configuration.</summary>
    public virtual string StateKey => GetType().Name;
}
