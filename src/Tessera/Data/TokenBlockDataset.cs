using TorchSharp;
using static TorchSharp.torch;

namespace Tessera.Data;

/// <summary>
/// A token stream cut into consecutive blocks of <see cref="BlockSize"/> ids for causal language modelling (the
/// packed layout of nanoGPT and <c>run_clm</c>'s group_texts); the tail shorter than a block is dropped. A batch's
/// inputs and targets are the same [batch, block] int64 ids: the model's loss shifts them by one.
/// </summary>
public sealed class TokenBlockDataset : IDataset<Batch>, IDisposable
{
    readonly Tensor blocks;

    /// <summary>Packs <paramref name="ids"/> into blocks.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="blockSize"/> is below 2.</exception>
    public TokenBlockDataset(ReadOnlySpan<long> ids, int blockSize)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(blockSize, 2);
        BlockSize = blockSize;
        int count = ids.Length / blockSize;
        blocks = tensor(ids[..(count * blockSize)].ToArray(), [count, blockSize]).DetachFromDisposeScope();
    }

    /// <summary>Tokens per block.</summary>
    public int BlockSize { get; }

    /// <inheritdoc />
    public int Count => (int)blocks.shape[0];

    /// <inheritdoc />
    /// <exception cref="ArgumentOutOfRangeException">An index is outside [0, <see cref="Count"/>).</exception>
    public Batch GetBatch(ReadOnlySpan<int> indices)
    {
        var idx = new long[indices.Length];
        for (int i = 0; i < indices.Length; i++)
        {
            if ((uint)indices[i] >= (uint)Count)
                throw new ArgumentOutOfRangeException(nameof(indices), indices[i], $"Index outside a dataset of {Count} blocks.");
            idx[i] = indices[i];
        }
        using var scope = NewDisposeScope();
        Tensor rows = blocks.index_select(0, tensor(idx));
        return new Batch(rows.MoveToOuterDisposeScope(), rows.clone().MoveToOuterDisposeScope());
    }

    /// <summary>Frees the blocks.</summary>
    public void Dispose() => blocks.Dispose();
}
