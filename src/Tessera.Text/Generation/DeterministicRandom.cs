namespace Tessera.Text.Generation;

/// <summary>
/// A small seeded generator (SplitMix64) whose sequence is fixed by its seed on every platform and .NET version,
/// unlike <see cref="Random"/>, whose algorithm is not part of its contract. The one random source of sampling, so the
/// same seed and the same logits give the same tokens on every back end.
/// </summary>
public sealed class DeterministicRandom
{
    ulong state;

    /// <summary>Starts the sequence for <paramref name="seed"/>.</summary>
    public DeterministicRandom(ulong seed) => state = seed;

    /// <summary>The next 64 random bits.</summary>
    public ulong NextUInt64()
    {
        ulong z = state += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    /// <summary>A double uniformly distributed in [0, 1), from the top 53 bits of <see cref="NextUInt64"/>.</summary>
    public double NextDouble() => (NextUInt64() >> 11) * (1.0 / (1UL << 53));
}
