using Tessera.Diffusion.Schedulers;

namespace Tessera.Diffusion.Pipelines;

/// <summary>
/// Seeded standard-normal noise (xoshiro256** seeded through SplitMix64, Box-Muller), the same sequence on every
/// machine and in every back end. One source per sample (<see cref="PerSample"/>) makes sample <c>i</c> of a batch the
/// same as when it is generated alone with the same seed.
/// </summary>
public sealed class GaussianNoise : INoiseSource
{
    ulong s0, s1, s2, s3;
    double? spare;

    /// <summary>Starts the sequence of <paramref name="seed"/>.</summary>
    public GaussianNoise(long seed)
    {
        ulong x = unchecked((ulong)seed);
        s0 = SplitMix(ref x);
        s1 = SplitMix(ref x);
        s2 = SplitMix(ref x);
        s3 = SplitMix(ref x);
    }

    /// <summary>One source per sample: seeds <c>seed, seed + 1, ..., seed + count - 1</c>.</summary>
    public static IReadOnlyList<INoiseSource> PerSample(long seed, int count) =>
        Enumerable.Range(0, count).Select(i => (INoiseSource)new GaussianNoise(seed + i)).ToArray();

    /// <inheritdoc/>
    public void NextGaussian(Span<float> destination)
    {
        for (int i = 0; i < destination.Length; i++) destination[i] = (float)NextDouble();
    }

    double NextDouble()
    {
        if (spare is { } s)
        {
            spare = null;
            return s;
        }
        double u1 = ((NextUInt64() >> 11) + 1) * (1.0 / 9007199254740993.0); // (0, 1]
        double u2 = (NextUInt64() >> 11) * (1.0 / 9007199254740992.0);      // [0, 1)
        double r = Math.Sqrt(-2.0 * Math.Log(u1));
        spare = r * Math.Sin(2 * Math.PI * u2);
        return r * Math.Cos(2 * Math.PI * u2);
    }

    ulong NextUInt64()
    {
        ulong result = RotateLeft(s1 * 5, 7) * 9;
        ulong t = s1 << 17;
        s2 ^= s0;
        s3 ^= s1;
        s1 ^= s2;
        s0 ^= s3;
        s2 ^= t;
        s3 = RotateLeft(s3, 45);
        return result;
    }

    static ulong RotateLeft(ulong x, int k) => (x << k) | (x >> (64 - k));

    static ulong SplitMix(ref ulong x)
    {
        ulong z = x += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }
}
