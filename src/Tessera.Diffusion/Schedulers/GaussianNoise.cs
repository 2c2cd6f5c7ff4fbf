namespace Tessera.Diffusion.Schedulers;

/// <summary>
/// Seeded standard-normal noise that is the same on every platform and runtime: SplitMix64 uniforms and
/// Marsaglia's polar method, with only IEEE-754 +, -, *, / and sqrt (the logarithm is computed here, not taken
/// from the C runtime, whose last bit may differ between platforms). Not the same numbers as torch.randn.
/// </summary>
public sealed class GaussianNoise : INoiseSource
{
    ulong state;
    double spare;
    bool hasSpare;

    /// <summary>Creates a source from <paramref name="seed"/>; equal seeds give equal sequences.</summary>
    public GaussianNoise(ulong seed) => state = seed;

    /// <summary>One source per sample, seeded <paramref name="seed"/>, <paramref name="seed"/> + 1, ...: sample i gets the same noise alone or in a batch.</summary>
    public static GaussianNoise[] PerSample(ulong seed, int count)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        var result = new GaussianNoise[count];
        for (int i = 0; i < count; i++) result[i] = new GaussianNoise(unchecked(seed + (ulong)i));
        return result;
    }

    /// <inheritdoc/>
    public void NextGaussian(Span<float> destination)
    {
        for (int i = 0; i < destination.Length; i++) destination[i] = (float)NextDouble();
    }

    /// <summary>The next N(0, 1) value in double precision.</summary>
    public double NextDouble()
    {
        if (hasSpare)
        {
            hasSpare = false;
            return spare;
        }
        double u, v, s;
        do
        {
            u = 2 * NextUniform() - 1;
            v = 2 * NextUniform() - 1;
            s = u * u + v * v;
        } while (s >= 1 || s == 0);
        double factor = Math.Sqrt(-2 * Log(s) / s);
        spare = v * factor;
        hasSpare = true;
        return u * factor;
    }

    // A uniform double in [0, 1) from the top 53 bits of SplitMix64 (Steele, Lea and Flood 2014).
    double NextUniform()
    {
        ulong z = state += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        z ^= z >> 31;
        return (z >> 11) * (1.0 / (1UL << 53));
    }

    // ln(x) for x in (0, 1]: x = m * 2^e with m in [sqrt(1/2), sqrt(2)), ln m = 2 atanh((m - 1) / (m + 1)) by its
    // series (|r| < 0.172, so 12 terms reach double precision). Deterministic: no fused or library operations.
    internal static double Log(double x)
    {
        long bits = BitConverter.DoubleToInt64Bits(x);
        int exponent = (int)((bits >> 52) & 0x7FF);
        if (exponent == 0)
        {
            // Subnormal: scale into the normal range first.
            return Log(x * 18014398509481984.0) - 54 * Ln2;
        }
        exponent -= 1023;
        double m = BitConverter.Int64BitsToDouble((bits & 0x000FFFFFFFFFFFFFL) | 0x3FF0000000000000L);
        if (m > Sqrt2)
        {
            m *= 0.5;
            exponent++;
        }
        double r = (m - 1) / (m + 1), r2 = r * r;
        double term = r, sum = 0;
        for (int k = 1; k <= 25; k += 2)
        {
            sum += term / k;
            term *= r2;
        }
        return 2 * sum + exponent * Ln2;
    }

    const double Ln2 = 0.69314718055994530942;
    const double Sqrt2 = 1.4142135623730950488;
}
