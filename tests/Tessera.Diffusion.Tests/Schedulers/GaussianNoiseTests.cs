using Tessera.Diffusion.Schedulers;

namespace Tessera.Diffusion.Tests.Schedulers;

public class GaussianNoiseTests
{
    // SplitMix64 + Marsaglia's polar method, seed 42: the values every platform must produce (the same as the
    // independent Python implementation in the test below).
    static readonly double[] seed42 = [0.49295065581737485, -0.6940056672160174, -1.2810773478777024, -0.901557193497174, -0.6018779810957331, 0.6425676289796471];

    [Fact]
    public void Seed_42_gives_the_pinned_values()
    {
        var noise = new GaussianNoise(42);
        foreach (double expected in seed42) Assert.Equal(expected, noise.NextDouble(), 1e-15);
    }

    [Fact]
    public void An_independent_python_implementation_gives_the_same_stream()
    {
        Requires.Python();
        const string script = """
            import math, sys
            M = (1 << 64) - 1
            state = int(sys.argv[1])
            def uniform():
                global state
                state = (state + 0x9E3779B97F4A7C15) & M
                z = state
                z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M
                z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M
                return ((z ^ (z >> 31)) >> 11) / float(1 << 53)
            out = []
            while len(out) < int(sys.argv[2]):
                u, v = 2 * uniform() - 1, 2 * uniform() - 1
                s = u * u + v * v
                if 0 < s < 1:
                    f = math.sqrt(-2 * math.log(s) / s)
                    out += [u * f, v * f]
            print(" ".join(repr(x) for x in out))
            """;
        double[] expected = [.. ReferencePython.Run(script, "12345", "2000").Split(' ').Select(double.Parse)];
        var noise = new GaussianNoise(12345);
        foreach (double e in expected) Assert.Equal(e, noise.NextDouble(), 1e-14);
    }

    [Fact]
    public void Values_are_standard_normal()
    {
        var values = new float[200_000];
        new GaussianNoise(7).NextGaussian(values);
        double mean = values.Average(v => (double)v);
        double variance = values.Average(v => (v - mean) * (v - mean));
        double beyond2 = values.Count(v => Math.Abs(v) > 2) / (double)values.Length;
        Assert.InRange(mean, -0.01, 0.01);
        Assert.InRange(variance, 0.98, 1.02);
        Assert.InRange(beyond2, 0.0435, 0.0475); // P(|z| > 2) = 0.0455
    }

    [Fact]
    public void Per_sample_sources_do_not_depend_on_the_batch()
    {
        var alone = new float[10];
        GaussianNoise.PerSample(100, 1)[0].NextGaussian(alone);
        var batch = GaussianNoise.PerSample(100, 4);
        var first = new float[10];
        batch[0].NextGaussian(first);
        var second = new float[10];
        batch[1].NextGaussian(second);
        Assert.Equal(alone, first);
        Assert.NotEqual(first, second);
    }

    [Fact]
    public void The_own_logarithm_matches_the_runtimes_to_the_last_bits()
    {
        var noise = new GaussianNoise(3);
        for (int i = 0; i < 10_000; i++)
        {
            double x = Math.Abs(noise.NextDouble()) / 10 + 1e-300 * i;
            Assert.Equal(Math.Log(x), GaussianNoise.Log(x), Math.Abs(Math.Log(x)) * 4e-16 + 1e-300);
        }
        Assert.Equal(Math.Log(4.9e-324), GaussianNoise.Log(4.9e-324), 1e-12);
        Assert.Equal(0.0, GaussianNoise.Log(1.0));
    }
}
