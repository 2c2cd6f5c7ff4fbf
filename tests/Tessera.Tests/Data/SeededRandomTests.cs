using System.Globalization;
using Tessera.Data;
using Tessera.Tests.Shared;

namespace Tessera.Tests.Data;

public class SeededRandomTests
{
    // The generator is specified (SplitMix64 seeding, xoshiro256**, Lemire bounded ints, Fisher-Yates from the end),
    // so Python can recompute it from the description alone.
    internal const string PythonGenerator = """
M = (1 << 64) - 1
def splitmix(x):
    x = (x + 0x9E3779B97F4A7C15) & M
    z = x
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M
    return x, z ^ (z >> 31)
def rotl(v, k): return ((v << k) | (v >> (64 - k))) & M
class Rng:
    def __init__(self, seed):
        x = seed & M
        self.s = []
        for _ in range(4):
            x, z = splitmix(x); self.s.append(z)
    def next(self):
        s = self.s
        r = (rotl((s[1] * 5) & M, 7) * 9) & M
        t = (s[1] << 17) & M
        s[2] ^= s[0]; s[3] ^= s[1]; s[1] ^= s[2]; s[0] ^= s[3]; s[2] ^= t; s[3] = rotl(s[3], 45)
        return r
    def int(self, bound):
        m = self.next() * bound
        low = m & M
        if low < bound:
            t = ((1 << 64) - bound) % bound
            while low < t:
                m = self.next() * bound; low = m & M
        return m >> 64
def derive(seed, *keys):
    x, h = splitmix(seed & M)
    for k in keys:
        x, h = splitmix(h ^ (k & M))
    return Rng(h)
def shuffle(rng, a):
    for i in range(len(a) - 1, 0, -1):
        j = rng.int(i + 1); a[i], a[j] = a[j], a[i]
    return a
""";

    [Fact]
    public void Sequence_matches_an_independent_python_implementation_of_the_spec()
    {
        Requires.Python();
        string output = ReferencePython.Run(PythonGenerator + "\n" + """
r = Rng(42); print(' '.join(str(r.next()) for _ in range(5)))
r = derive(-7, 3, 1 << 40); print(' '.join(str(r.next()) for _ in range(3)))
r = Rng(1); print(' '.join(str(r.int(b)) for b in (1, 2, 3, 10, 1000, 2**31 - 1)))
""");
        var lines = output.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        static ulong[] Parse(string line) => line.Split(' ').Select(s => ulong.Parse(s, CultureInfo.InvariantCulture)).ToArray();

        var a = new SeededRandom(42);
        Assert.Equal(Parse(lines[0]), Enumerable.Range(0, 5).Select(_ => a.NextUInt64()).ToArray());
        var b = SeededRandom.Derive(-7, 3, 1L << 40);
        Assert.Equal(Parse(lines[1]), Enumerable.Range(0, 3).Select(_ => b.NextUInt64()).ToArray());
        var c = new SeededRandom(1);
        Assert.Equal(Parse(lines[2]), new[] { 1, 2, 3, 10, 1000, int.MaxValue }.Select(n => (ulong)c.NextInt(n)).ToArray());
    }

    [Fact]
    public void Same_seed_repeats_and_derived_streams_differ()
    {
        var x = SeededRandom.Derive(5, 1, 2);
        var y = SeededRandom.Derive(5, 1, 2);
        var z = SeededRandom.Derive(5, 2, 1);
        var xs = Enumerable.Range(0, 8).Select(_ => x.NextUInt64()).ToArray();
        Assert.Equal(xs, Enumerable.Range(0, 8).Select(_ => y.NextUInt64()).ToArray());
        Assert.NotEqual(xs, Enumerable.Range(0, 8).Select(_ => z.NextUInt64()).ToArray());
    }

    [Fact]
    public void NextInt_and_NextDouble_are_roughly_uniform()
    {
        var rng = new SeededRandom(123);
        var counts = new int[10];
        for (int i = 0; i < 100_000; i++) counts[rng.NextInt(10)]++;
        Assert.All(counts, c => Assert.InRange(c, 9_500, 10_500));
        double sum = 0;
        for (int i = 0; i < 100_000; i++)
        {
            double d = rng.NextDouble();
            Assert.InRange(d, 0.0, 0.9999999999999999);
            sum += d;
        }
        Assert.InRange(sum / 100_000, 0.495, 0.505);
        Assert.InRange(rng.NextInt(-3, 3), -3, 2);
        Assert.Throws<ArgumentOutOfRangeException>(() => rng.NextInt(0));
    }
}
