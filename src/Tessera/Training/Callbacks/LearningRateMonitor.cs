namespace Tessera.Training.Callbacks;

/// <summary>Logs the learning rate of every parameter group as <c>lr-{Optimizer}</c> (<c>/pg{i}</c> when there are several).</summary>
public sealed class LearningRateMonitor : Callback
{
    /// <summary>Creates the monitor; <paramref name="everyEpoch"/> logs once per epoch instead of at logging steps.</summary>
    public LearningRateMonitor(bool everyEpoch = false) => EveryEpoch = everyEpoch;

    /// <summary>Whether the rate is logged per epoch rather than per logging step.</summary>
    public bool EveryEpoch { get; }

    /// <inheritdoc />
    public override void OnTrainBatchEnd(Trainer trainer, TrainingModuleBase module, double loss, int batchIndex, long batchSize)
    {
        if (!EveryEpoch && trainer.IsLoggingStep) Log(trainer);
    }

    /// <inheritdoc />
    public override void OnTrainEpochStart(Trainer trainer, TrainingModuleBase module)
    {
        if (EveryEpoch) Log(trainer);
    }

    static void Log(Trainer trainer)
    {
        if (trainer.Optimizer is not { } optimizer) return;
        var groups = optimizer.ParamGroups.ToList();
        string name = "lr-" + optimizer.GetType().Name;
        var metrics = new Dictionary<string, double>();
        for (int i = 0; i < groups.Count; i++)
            metrics[groups.Count == 1 ? name : $"{name}/pg{i}"] = groups[i].LearningRate;
        trainer.LogMetrics(metrics);
    }
}
