namespace Tessera.Data;

/// <summary>How a <see cref="DataLoader{TBatch}"/> cuts an epoch into batches.</summary>
public sealed record DataLoaderOptions
{
    /// <summary>Examples per batch (the last batch may be smaller unless <see cref="DropLast"/>). Default 64.</summary>
    public int BatchSize { get; init; } = 64;

    /// <summary>Visit examples in a seeded random order that changes every epoch. Default false (dataset order).</summary>
    public bool Shuffle { get; init; }

    /// <summary>Seed for shuffling and for the per-batch generators that augmentation draws from. Default 0.</summary>
    public int Seed { get; init; }

    /// <summary>Skip the last batch when it would be smaller than <see cref="BatchSize"/>. Default false.</summary>
    public bool DropLast { get; init; }

    /// <summary>Batches built ahead on a background thread while the caller trains; 0 builds them on the caller's thread. Default 2.</summary>
    public int Prefetch { get; init; } = 2;
}
