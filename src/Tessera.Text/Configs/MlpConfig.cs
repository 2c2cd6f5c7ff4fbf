using System.Text.Json.Serialization;
using Tessera.Transformers;

namespace Tessera.Models;

/// <summary>
/// Configuration of <c>Tessera.Models.Mlp</c>, a fully connected classifier over flattened inputs.
/// Serialized as <c>config.json</c> with <c>"model_type": "mlp"</c>.
/// </summary>
public sealed record MlpConfig : PretrainedConfig
{
    /// <summary>The <c>model_type</c> value of this architecture.</summary>
    public const string Type = "mlp";

    /// <summary>Creates a config with <c>model_type</c> <c>mlp</c> and the default values.</summary>
    public MlpConfig() => ModelType = Type;

    /// <summary>Number of input features after flattening (784 for 28x28 grayscale images).</summary>
    [JsonPropertyName("input_size")]
    public int InputSize { get; init; } = 28 * 28;

    /// <summary>Widths of the hidden layers, in order; empty gives a linear (logistic regression) model.</summary>
    [JsonPropertyName("hidden_sizes")]
    public IReadOnlyList<int> HiddenSizes { get; init; } = [256, 128];

    /// <summary>Number of output classes (logits).</summary>
    [JsonPropertyName("num_classes")]
    public int NumClasses { get; init; } = 10;

    /// <summary>Dropout probability applied after each hidden ReLU during training; 0 disables it.</summary>
    [JsonPropertyName("dropout")]
    public double Dropout { get; init; }

    /// <inheritdoc/>
    public override void Validate()
    {
        Require(InputSize > 0, "input_size", $"must be positive, got {InputSize}");
        Require(HiddenSizes is not null, "hidden_sizes", "must be a list (may be empty)");
        for (int i = 0; i < HiddenSizes!.Count; i++)
            Require(HiddenSizes[i] > 0, "hidden_sizes", $"entry {i} must be positive, got {HiddenSizes[i]}");
        Require(NumClasses > 0, "num_classes", $"must be positive, got {NumClasses}");
        Require(Dropout is >= 0 and < 1, "dropout", $"must be in [0, 1), got {Dropout}");
    }

    /// <summary>Value equality that compares <see cref="HiddenSizes"/> element-wise (and the base fields).</summary>
    public bool Equals(MlpConfig? other) =>
        base.Equals(other) && other is not null && InputSize == other.InputSize && NumClasses == other.NumClasses &&
        Dropout.Equals(other.Dropout) && HiddenSizes.SequenceEqual(other.HiddenSizes);

    /// <inheritdoc/>
    public override int GetHashCode() => HashCode.Combine(base.GetHashCode(), InputSize, NumClasses, Dropout, HiddenSizes.Count);
}
