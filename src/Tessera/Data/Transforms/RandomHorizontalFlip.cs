using TorchSharp;
using static TorchSharp.torch;

namespace Tessera.Data.Transforms;

/// <summary>
/// Mirrors each example of an [N, ..., W] batch along its last axis with probability <see cref="P"/>, deciding
/// example by example in order with <c>rng.NextDouble() &lt; p</c>.
/// </summary>
public sealed class RandomHorizontalFlip : ITransform
{
    /// <summary>Creates the transform.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="p"/> is outside [0, 1].</exception>
    public RandomHorizontalFlip(double p = 0.5)
    {
        if (!(p >= 0 && p <= 1)) throw new ArgumentOutOfRangeException(nameof(p), p, "Probability must be in [0, 1].");
        P = p;
    }

    /// <summary>Probability of flipping each example.</summary>
    public double P { get; }

    /// <inheritdoc />
    /// <exception cref="ArgumentException">The input has fewer than 2 dimensions.</exception>
    public Tensor Apply(Tensor batchInputs, SeededRandom rng)
    {
        if (batchInputs.dim() < 2)
            throw new ArgumentException($"RandomHorizontalFlip expects [N, ..., W] inputs; got [{string.Join(", ", batchInputs.shape)}].");
        long n = batchInputs.shape[0];
        var flip = new bool[n];
        for (long i = 0; i < n; i++) flip[i] = rng.NextDouble() < P;

        using var scope = NewDisposeScope();
        var maskShape = new long[batchInputs.dim()];
        Array.Fill(maskShape, 1L);
        maskShape[0] = n;
        var mask = torch.tensor(flip, device: batchInputs.device).reshape(maskShape);
        return torch.where(mask, batchInputs.flip(batchInputs.dim() - 1), batchInputs).MoveToOuterDisposeScope();
    }
}
