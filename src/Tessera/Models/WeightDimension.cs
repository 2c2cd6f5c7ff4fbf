namespace Tessera.Models;

/// <summary>
/// A size that a config field gives one checkpoint tensor, e.g. <c>vocab_size</c> is dimension 0 of <c>wte.weight</c>.
/// <see cref="PretrainedModels"/> compares these with the safetensors header before the model is allocated, so a config
/// that does not belong to its weights (or asks for a billion-row table) fails in one line naming the field.
/// </summary>
/// <param name="Field">The config.json field as written there (e.g. <c>vocab_size</c>).</param>
/// <param name="Value">The field's value, as the error shows it.</param>
/// <param name="Tensor">
/// The checkpoint tensor (e.g. <c>wte.weight</c>), matched exactly or as a dotted suffix so a base-model prefix does not
/// matter; for <see cref="LayerCount"/> the name of the layer list (e.g. <c>h</c> for <c>h.0.*</c>, <c>h.1.*</c>, ...).
/// </param>
/// <param name="Axis">The dimension of <paramref name="Tensor"/>, or <see cref="LayerCount"/>.</param>
/// <param name="Size">What that dimension (or the number of layers) must be; often <paramref name="Value"/> itself.</param>
public sealed record WeightDimension(string Field, long Value, string Tensor, int Axis, long Size)
{
    /// <summary>The <see cref="Axis"/> that means "the number of numbered entries in the layer list <see cref="Tensor"/>".</summary>
    public const int LayerCount = -1;

    /// <summary>Field <paramref name="field"/> = <paramref name="value"/> is dimension <paramref name="axis"/> of <paramref name="tensor"/>.</summary>
    public static WeightDimension Of(string field, long value, string tensor, int axis) => new(field, value, tensor, axis, value);

    /// <summary>Field <paramref name="field"/> = <paramref name="value"/> is the number of layers in the list <paramref name="list"/>.</summary>
    public static WeightDimension Layers(string field, long value, string list) => new(field, value, list, LayerCount, value);
}
