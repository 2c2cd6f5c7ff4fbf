namespace Tessera.Tasks;

/// <summary>Optimizer settings of an <see cref="ImageClassifier"/>.</summary>
public sealed record ImageClassifierOptions
{
    /// <summary><c>adam</c> (default), <c>adamw</c> or <c>sgd</c> (Nesterov, momentum 0.9).</summary>
    public string Optimizer { get; init; } = "adam";
    /// <summary>Learning rate (the peak rate with a schedule). Default 1e-3.</summary>
    public double LearningRate { get; init; } = 1e-3;
    /// <summary>Weight decay. Default 0.</summary>
    public double WeightDecay { get; init; }
    /// <summary><c>none</c> (default), <c>onecycle</c> or <c>cosine</c> (5% linear warmup).</summary>
    public string Schedule { get; init; } = "none";
    /// <summary>Label smoothing for the cross-entropy loss. Default 0.</summary>
    public double LabelSmoothing { get; init; }
}
