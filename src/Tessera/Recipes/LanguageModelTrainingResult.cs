namespace Tessera.Recipes;

/// <summary>What <see cref="LanguageModelTraining.Run"/> measured.</summary>
public sealed record LanguageModelTrainingResult
{
    /// <summary>The architecture name.</summary>
    public required string Model { get; init; }

    /// <summary>Trainable parameters.</summary>
    public required long Parameters { get; init; }

    /// <summary>Optimizer steps taken.</summary>
    public required long Steps { get; init; }

    /// <summary>Training and validation tokens.</summary>
    public required (long Train, long Validation) Tokens { get; init; }

    /// <summary>Mean training loss of the last logged steps (nats per token).</summary>
    public required double TrainLoss { get; init; }

    /// <summary>Validation loss at the end (nats per token).</summary>
    public required double ValidationLoss { get; init; }

    /// <summary><c>exp(ValidationLoss)</c>.</summary>
    public double ValidationPerplexity => Math.Exp(ValidationLoss);

    /// <summary>(step, training loss) points of the loss curve.</summary>
    public required IReadOnlyList<(long Step, double Loss)> LossCurve { get; init; }

    /// <summary>Sampled completions of <see cref="LanguageModelTrainingOptions.SamplePrompts"/>, prompt included.</summary>
    public required IReadOnlyList<string> Samples { get; init; }

    /// <summary>Training time in seconds.</summary>
    public required double TrainSeconds { get; init; }

    /// <summary>Training tokens per second.</summary>
    public double TokensPerSecond => TrainSeconds > 0 ? Steps * (double)BatchTokens / TrainSeconds : 0;

    /// <summary>Tokens per optimizer step.</summary>
    public required long BatchTokens { get; init; }

    /// <summary>The model folder (config.json, model.safetensors, tokenizer files, generation_config.json, README.md).</summary>
    public required string ModelDir { get; init; }
}
