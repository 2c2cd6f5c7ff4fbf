using Tessera.Runtime.Generation;

namespace Tessera.Runtime.Tests.Generation;

public class TokenSamplingTests
{
    [Fact]
    public void Greedy_takes_the_first_largest()
    {
        Assert.Equal(1, TokenSampling.Greedy([0f, 3f, 3f, -1f]));
    }

    [Fact]
    public void TopK_keeps_the_k_largest()
    {
        float[] s = [1f, 4f, 2f, 3f];
        TokenSampling.TopK(s, 2);
        Assert.Equal([float.NegativeInfinity, 4f, float.NegativeInfinity, 3f], s);
    }

    [Fact]
    public void TopP_keeps_the_smallest_set_reaching_p()
    {
        // probabilities 0.5, 0.3, 0.2: p = 0.7 needs the first two, p = 0.5 only the first.
        float[] s = [MathF.Log(0.5f), MathF.Log(0.3f), MathF.Log(0.2f)];
        float[] t = (float[])s.Clone();
        TokenSampling.TopP(s, 0.7);
        Assert.True(float.IsFinite(s[0]) && float.IsFinite(s[1]) && float.IsNegativeInfinity(s[2]));
        TokenSampling.TopP(t, 0.5);
        Assert.True(float.IsFinite(t[0]) && float.IsNegativeInfinity(t[1]) && float.IsNegativeInfinity(t[2]));
    }

    [Fact]
    public void Repetition_penalty_divides_positive_and_multiplies_negative_scores()
    {
        float[] s = [2f, -2f, 2f];
        TokenSampling.RepetitionPenalty(s, [0, 1, 1], 2.0);
        Assert.Equal([1f, -4f, 2f], s);
    }

    [Fact]
    public void Sampling_follows_the_distribution_and_the_seed()
    {
        float[] s = [MathF.Log(0.7f), MathF.Log(0.2f), MathF.Log(0.1f)];
        var random = new DeterministicRandom(7);
        var counts = new int[3];
        for (int i = 0; i < 20000; i++) counts[TokenSampling.Sample(s, random)]++;
        Assert.InRange(counts[0] / 20000.0, 0.68, 0.72);
        Assert.InRange(counts[1] / 20000.0, 0.18, 0.22);
        Assert.Equal(new DeterministicRandom(3).NextUInt64(), new DeterministicRandom(3).NextUInt64());
    }

    [Fact]
    public void DeterministicRandom_gives_SplitMix64s_known_first_value()
    {
        // SplitMix64 seeded with 0: first output 0xE220A8397B1DCDAF.
        Assert.Equal(0xE220A8397B1DCDAFUL, new DeterministicRandom(0).NextUInt64());
    }
}
