using TorchSharp;
using static TorchSharp.torch;

namespace Tessera.Data.Transforms;

/// <summary>
/// Pads [N, C, H, W] images with <see cref="Padding"/> zeros on every side, then cuts a <see cref="Size"/> x
/// <see cref="Size"/> window at an independent random offset per example. For each example in order, the top
/// offset is <c>rng.NextInt(H + 2p - size + 1)</c> and then the left offset <c>rng.NextInt(W + 2p - size + 1)</c>.
/// </summary>
public sealed class RandomCrop : ITransform
{
    /// <summary>Creates the transform.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="size"/> is not positive or <paramref name="padding"/> is negative.</exception>
    public RandomCrop(int size, int padding = 0)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(size);
        ArgumentOutOfRangeException.ThrowIfNegative(padding);
        Size = size;
        Padding = padding;
    }

    /// <summary>Side of the square output.</summary>
    public int Size { get; }

    /// <summary>Zeros added on each side before cropping.</summary>
    public int Padding { get; }

    /// <inheritdoc />
    /// <exception cref="ArgumentException">The input is not [N, C, H, W] or the padded image is smaller than <see cref="Size"/>.</exception>
    public Tensor Apply(Tensor batchInputs, SeededRandom rng)
    {
        if (batchInputs.dim() != 4)
            throw new ArgumentException($"RandomCrop expects [N, C, H, W] inputs; got [{string.Join(", ", batchInputs.shape)}].");
        long n = batchInputs.shape[0], c = batchInputs.shape[1];
        long h = batchInputs.shape[2] + 2L * Padding, w = batchInputs.shape[3] + 2L * Padding;
        if (h < Size || w < Size)
            throw new ArgumentException($"RandomCrop of {Size} does not fit in padded images of {h}x{w}.");

        var tops = new long[n * Size];
        var lefts = new long[n * Size];
        for (long i = 0; i < n; i++)
        {
            int top = rng.NextInt((int)(h - Size + 1));
            int left = rng.NextInt((int)(w - Size + 1));
            for (int k = 0; k < Size; k++)
            {
                tops[i * Size + k] = top + k;
                lefts[i * Size + k] = left + k;
            }
        }

        using var scope = NewDisposeScope();
        var padded = Padding == 0 ? batchInputs : nn.functional.pad(batchInputs, new long[] { Padding, Padding, Padding, Padding });
        // Two gathers cut every example's window at once: rows first, then columns.
        var rows = torch.tensor(tops, new[] { n, 1, Size, 1 }, device: batchInputs.device).expand(n, c, Size, w);
        var cols = torch.tensor(lefts, new[] { n, 1, 1, Size }, device: batchInputs.device).expand(n, c, Size, Size);
        return padded.gather(2, rows).gather(3, cols).MoveToOuterDisposeScope();
    }
}
