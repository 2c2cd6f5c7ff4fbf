namespace Tessera.Data;

/// <summary>
/// A small, fully specified pseudo-random generator (xoshiro256** seeded through SplitMix64) for shuffling and
/// augmentation. Unlike <see cref="System.Random"/>, whose algorithm .NET does not promise to keep, the sequence
/// for a given seed is fixed forever, so a run resumed on another machine or runtime sees the same batches.
/// Not thread-safe and not for cryptography.
/// </summary>
public sealed class SeededRandom
{
    private ulong _s0, _s1, _s2, _s3;

    /// <summary>Creates a generator whose state is four successive SplitMix64 outputs starting from <paramref name="seed"/>.</summary>
    public SeededRandom(ulong seed)
    {
        ulong x = seed;
        _s0 = SplitMix64(ref x);
        _s1 = SplitMix64(ref x);
        _s2 = SplitMix64(ref x);
        _s3 = SplitMix64(ref x);
    }

    /// <summary>
    /// Creates a generator for one stream identified by <paramref name="seed"/> and any number of <paramref name="keys"/>
    /// (for example epoch and batch index). Each key is folded in with a SplitMix64 step, so (1, 2) and (2, 1) differ
    /// and nearby keys give unrelated sequences.
    /// </summary>
    public static SeededRandom Derive(long seed, params ReadOnlySpan<long> keys)
    {
        ulong x = (ulong)seed;
        ulong h = SplitMix64(ref x);
        foreach (long key in keys)
        {
            x = h ^ (ulong)key;
            h = SplitMix64(ref x);
        }
        return new SeededRandom(h);
    }

    /// <summary>Returns the next 64 uniformly distributed bits (xoshiro256**).</summary>
    public ulong NextUInt64()
    {
        ulong result = ulong.RotateLeft(_s1 * 5, 7) * 9;
        ulong t = _s1 << 17;
        _s2 ^= _s0;
        _s3 ^= _s1;
        _s1 ^= _s2;
        _s0 ^= _s3;
        _s2 ^= t;
        _s3 = ulong.RotateLeft(_s3, 45);
        return result;
    }

    /// <summary>Returns an integer uniformly drawn from [0, <paramref name="maxExclusive"/>), without modulo bias.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="maxExclusive"/> is not positive.</exception>
    public int NextInt(int maxExclusive)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxExclusive);
        // Lemire's multiply-shift with rejection of the few low products that would bias the result.
        ulong bound = (ulong)maxExclusive;
        ulong high = Math.BigMul(NextUInt64(), bound, out ulong low);
        if (low < bound)
        {
            ulong threshold = (0UL - bound) % bound;
            while (low < threshold)
                high = Math.BigMul(NextUInt64(), bound, out low);
        }
        return (int)high;
    }

    /// <summary>Returns an integer uniformly drawn from [<paramref name="minInclusive"/>, <paramref name="maxExclusive"/>).</summary>
    /// <exception cref="ArgumentOutOfRangeException">The range is empty.</exception>
    public int NextInt(int minInclusive, int maxExclusive)
    {
        if (maxExclusive <= minInclusive)
            throw new ArgumentOutOfRangeException(nameof(maxExclusive), $"Empty range [{minInclusive}, {maxExclusive}).");
        return minInclusive + NextInt(maxExclusive - minInclusive);
    }

    /// <summary>Returns a double uniformly drawn from [0, 1) with 53 random bits.</summary>
    public double NextDouble() => (NextUInt64() >> 11) * (1.0 / (1UL << 53));

    /// <summary>Shuffles <paramref name="items"/> in place with Fisher-Yates, drawing j = NextInt(i + 1) for i from the end down to 1.</summary>
    public void Shuffle<T>(Span<T> items)
    {
        for (int i = items.Length - 1; i > 0; i--)
        {
            int j = NextInt(i + 1);
            (items[i], items[j]) = (items[j], items[i]);
        }
    }

    private static ulong SplitMix64(ref ulong x)
    {
        ulong z = x += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }
}
