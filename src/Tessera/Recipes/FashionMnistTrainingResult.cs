using Tessera.Training.Metrics;

namespace Tessera.Recipes;

/// <summary>What a <see cref="FashionMnistTraining"/> run measured.</summary>
public sealed record FashionMnistTrainingResult
{
    /// <summary>Architecture name.</summary>
    public required string Model { get; init; }
    /// <summary>Accuracy on the 10,000-image test set.</summary>
    public double TestAccuracy { get; init; }
    /// <summary>Macro-averaged F1 on the test set.</summary>
    public double MacroF1 { get; init; }
    /// <summary>Accuracy on the validation images held out from the training set after the last epoch; NaN with no validation (<c>ValidationSize = 0</c>).</summary>
    public double ValidationAccuracy { get; init; }
    /// <summary>Epochs completed.</summary>
    public int Epochs { get; init; }
    /// <summary>Wall time of Fit.</summary>
    public double TrainSeconds { get; init; }
    /// <summary>Wall time of the whole run, data loading and evaluation included.</summary>
    public double TotalSeconds { get; init; }
    /// <summary>Training throughput of the last epoch.</summary>
    public double ImagesPerSecond { get; init; }
    /// <summary>The written model folder.</summary>
    public required string ModelDir { get; init; }
    /// <summary>Per-class precision, recall and F1 on the test set (empty in data-parallel ranks other than 0, which do not evaluate).</summary>
    public ClassificationReport? PerClass { get; init; }
}
