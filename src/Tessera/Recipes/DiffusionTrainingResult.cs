namespace Tessera.Recipes;

/// <summary>What a <see cref="DiffusionTraining"/> run measured.</summary>
public sealed record DiffusionTrainingResult
{
    /// <summary>UNet parameters.</summary>
    public long Parameters { get; init; }
    /// <summary>Training images used.</summary>
    public int TrainImages { get; init; }
    /// <summary>Image size the UNet sees (28, or padded to a multiple of 2^(levels-1)).</summary>
    public int ImageSize { get; init; }
    /// <summary>Epochs completed.</summary>
    public int Epochs { get; init; }
    /// <summary>Optimizer steps completed.</summary>
    public long Steps { get; init; }
    /// <summary>Mean training loss of the first logged steps (about the first 5% of the run, across --resume).</summary>
    public double FirstLoss { get; init; }
    /// <summary>Mean training loss of the last logged steps (about the last 10% of the run, across --resume).</summary>
    public double FinalLoss { get; init; }
    /// <summary>(step, training loss) of each row of the run's metrics.csv that has one (the trainer's logging steps and epoch ends), across --resume; empty on processes other than rank 0.</summary>
    public IReadOnlyList<(long Step, double Loss)> LossCurve { get; init; } = [];
    /// <summary>Wall time of Fit.</summary>
    public double TrainSeconds { get; init; }
    /// <summary>Training throughput over the steps of this invocation.</summary>
    public double StepsPerSecond { get; init; }
    /// <summary>Training images per second over the steps of this invocation.</summary>
    public double ImagesPerSecond { get; init; }
    /// <summary>The written pipeline folder (model_index.json, unet/, scheduler/, README.md, samples.png).</summary>
    public required string ModelDir { get; init; }
    /// <summary>Resident memory of the process (MB, <see cref="Environment.WorkingSet"/>) at the end of each epoch of this invocation, in order.</summary>
    public IReadOnlyList<double> RssMegabytesPerEpoch { get; init; } = [];
    /// <summary>Quality metrics, when a classifier was given.</summary>
    public DiffusionQuality? Quality { get; init; }
}
