using static TorchSharp.torch;

namespace Tessera.Data.Transforms;

/// <summary>A batch-level transform of model inputs (normalization, augmentation).</summary>
public interface ITransform
{
    /// <summary>
    /// Returns a new tensor computed from <paramref name="batchInputs"/> ([N, C, H, W] for images), drawing any
    /// randomness from <paramref name="rng"/>. Does not dispose or modify the input.
    /// </summary>
    Tensor Apply(Tensor batchInputs, SeededRandom rng);
}
