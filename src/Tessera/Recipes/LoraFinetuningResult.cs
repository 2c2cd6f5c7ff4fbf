namespace Tessera.Recipes;

/// <summary>What <see cref="LoraFinetuning.Run"/> produced.</summary>
public sealed record LoraFinetuningResult
{
    /// <summary>The saved adapter folder (adapter_config.json, adapter_model.safetensors).</summary>
    public required string AdapterDir { get; init; }

    /// <summary>Trainable (adapter) parameters.</summary>
    public required long TrainableParameters { get; init; }

    /// <summary>All parameters, base plus adapter.</summary>
    public required long TotalParameters { get; init; }

    /// <summary>Optimizer steps run.</summary>
    public required long Steps { get; init; }

    /// <summary>Mean training loss of the last logged steps.</summary>
    public required double TrainLoss { get; init; }

    /// <summary>Validation loss of the last validation (NaN without held-out data).</summary>
    public required double ValidationLoss { get; init; }

    /// <summary>Classification: accuracy of the last validation (NaN without held-out data).</summary>
    public double ValidationAccuracy { get; init; } = double.NaN;
}
