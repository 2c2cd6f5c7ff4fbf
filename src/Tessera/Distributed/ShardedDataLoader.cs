using Tessera.Data;

namespace Tessera.Distributed;

/// <summary>
/// One process's share of a <see cref="DataLoader{TBatch}"/>, with PyTorch DistributedSampler's rules: each epoch's
/// order (the loader's seeded permutation, the same on every rank) is padded by repeating its start until it divides
/// evenly (or, with the loader's DropLast, cut to a multiple of the world size), then rank r takes positions
/// r, r + world, r + 2 world, ... So the shards of an epoch are disjoint (apart from the padding) and together cover
/// every example, and per-rank batch size B over world W visits the same examples per step as one process with batch W x B.
/// </summary>
public sealed class ShardedDataLoader<TBatch> : IDataLoader<TBatch>
{
    readonly DataLoader<TBatch> source;

    /// <summary>Creates rank <paramref name="rank"/>'s share of <paramref name="source"/> among <paramref name="worldSize"/> processes.</summary>
    public ShardedDataLoader(DataLoader<TBatch> source, int rank, int worldSize)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(worldSize);
        if ((uint)rank >= (uint)worldSize) throw new ArgumentOutOfRangeException(nameof(rank), rank, $"expected 0 <= rank < {worldSize}");
        this.source = source;
        Rank = rank;
        WorldSize = worldSize;
        int n = source.ExampleCount;
        ExampleCount = source.Options.DropLast && n % worldSize != 0 ? n / worldSize : (n + worldSize - 1) / worldSize;
        if (ExampleCount == 0) throw new ArgumentException($"{n} examples cannot be shared by {worldSize} processes", nameof(source));
    }

    /// <summary>This process's rank.</summary>
    public int Rank { get; }

    /// <summary>How many processes share the data.</summary>
    public int WorldSize { get; }

    /// <summary>Examples this rank visits per epoch (the same on every rank).</summary>
    public int ExampleCount { get; }

    /// <inheritdoc />
    public int BatchesPerEpoch => source.Options.DropLast
        ? ExampleCount / source.Options.BatchSize
        : (ExampleCount + source.Options.BatchSize - 1) / source.Options.BatchSize;

    /// <summary>The dataset indices this rank visits in epoch <paramref name="epoch"/>, in order.</summary>
    public int[] Indices(int epoch) => ShardIndices(source.Order(epoch), Rank, WorldSize, source.Options.DropLast);

    /// <summary>DistributedSampler's rule over one epoch's <paramref name="order"/>: pad (or cut) to a multiple of the world size, then take every world-th from rank.</summary>
    public static int[] ShardIndices(ReadOnlySpan<int> order, int rank, int worldSize, bool dropLast)
    {
        int n = order.Length;
        int perRank = dropLast && n % worldSize != 0 ? n / worldSize : (n + worldSize - 1) / worldSize;
        var shard = new int[perRank];
        for (int i = 0; i < perRank; i++)
        {
            int position = rank + i * worldSize;
            shard[i] = order[position % n]; // positions past the end wrap to the start: the padding
        }
        return shard;
    }

    /// <inheritdoc />
    public IEnumerable<TBatch> Epoch(int epoch, int startBatch = 0)
    {
        if (startBatch < 0 || startBatch > BatchesPerEpoch)
            throw new ArgumentOutOfRangeException(nameof(startBatch), startBatch, $"Must be in [0, {BatchesPerEpoch}].");
        return source.EpochOf(Indices(epoch), epoch, startBatch, BatchesPerEpoch);
    }
}
