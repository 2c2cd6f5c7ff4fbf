using TorchSharp;
using static TorchSharp.torch;

namespace Tessera.Data.Transforms;

/// <summary>Per-channel normalization of [N, C, ...] inputs: <c>(x - mean[c]) / std[c]</c>.</summary>
public sealed class Normalize : ITransform
{
    private readonly float[] _mean;
    private readonly float[] _std;

    /// <summary>Creates the transform from one mean and one standard deviation per channel.</summary>
    /// <exception cref="ArgumentException">The arrays are empty or differ in length, or a standard deviation is not positive.</exception>
    public Normalize(float[] mean, float[] std)
    {
        ArgumentNullException.ThrowIfNull(mean);
        ArgumentNullException.ThrowIfNull(std);
        if (mean.Length == 0 || mean.Length != std.Length)
            throw new ArgumentException($"Need one mean and one std per channel; got {mean.Length} means and {std.Length} stds.");
        if (std.Any(s => !(s > 0)))
            throw new ArgumentException("Every std must be positive.", nameof(std));
        _mean = (float[])mean.Clone();
        _std = (float[])std.Clone();
    }

    /// <summary>Per-channel means.</summary>
    public IReadOnlyList<float> Mean => _mean;

    /// <summary>Per-channel standard deviations.</summary>
    public IReadOnlyList<float> Std => _std;

    /// <inheritdoc />
    /// <exception cref="ArgumentException">The input has fewer than 2 dimensions or its channel count differs from the mean's length.</exception>
    public Tensor Apply(Tensor batchInputs, SeededRandom rng)
    {
        if (batchInputs.dim() < 2 || batchInputs.shape[1] != _mean.Length)
            throw new ArgumentException($"Normalize expects [N, {_mean.Length}, ...] inputs; got [{string.Join(", ", batchInputs.shape)}].");
        using var scope = NewDisposeScope();
        var shape = new long[batchInputs.dim()];
        Array.Fill(shape, 1L);
        shape[1] = _mean.Length;
        var mean = torch.tensor(_mean, dtype: batchInputs.dtype, device: batchInputs.device).reshape(shape);
        var std = torch.tensor(_std, dtype: batchInputs.dtype, device: batchInputs.device).reshape(shape);
        return ((batchInputs - mean) / std).MoveToOuterDisposeScope();
    }
}
