using Tessera.Text.Generation;

namespace Tessera.Text.Tests.Generation;

public class LogitsProcessorsTests
{
    static float Inf => float.NegativeInfinity;

    static float[] Apply(float[] scores, Action<float[]> process)
    {
        float[] copy = (float[])scores.Clone();
        process(copy);
        return copy;
    }

    [Fact]
    public void Repetition_penalty_divides_positive_and_multiplies_negative_scores_of_seen_ids_once()
    {
        float[] scores = [2, -2, 1, -1];
        Assert.Equal([1f, -4f, 1f, -1f], Apply(scores, s => LogitsProcessors.RepetitionPenalty(s, [0, 1, 1], 2.0)));
        // Below 1 it rewards repetition, mirrored; ids outside the vocabulary are ignored.
        Assert.Equal([4f, -1f, 1f, -1f], Apply(scores, s => LogitsProcessors.RepetitionPenalty(s, [0, 1, 9, -3], 0.5)));
        Assert.Equal([1f, -4f, 1f, -1f], Apply(scores, s => LogitsProcessors.RepetitionPenalty(s, new HashSet<int> { 1, 0 }, 2.0)));
        Assert.Throws<ArgumentOutOfRangeException>(() => LogitsProcessors.RepetitionPenalty(new float[2], [0], 0));
    }

    [Fact]
    public void Temperature_divides_the_scores()
    {
        Assert.Equal([2f, -4f], Apply([1, -2], s => LogitsProcessors.Temperature(s, 0.5)));
        Assert.Throws<ArgumentOutOfRangeException>(() => LogitsProcessors.Temperature(new float[1], 0));
    }

    [Fact]
    public void Top_k_keeps_the_k_best_and_every_token_tied_with_the_kth()
    {
        float[] scores = [1, 3, 3, 2];
        Assert.Equal([Inf, 3f, 3f, Inf], Apply(scores, s => LogitsProcessors.TopK(s, 1)));
        Assert.Equal([Inf, 3f, 3f, Inf], Apply(scores, s => LogitsProcessors.TopK(s, 2)));
        Assert.Equal([Inf, 3f, 3f, 2f], Apply(scores, s => LogitsProcessors.TopK(s, 3)));
        Assert.Equal(scores, Apply(scores, s => LogitsProcessors.TopK(s, 0)));
        Assert.Equal(scores, Apply(scores, s => LogitsProcessors.TopK(s, 10)));
        Assert.Throws<ArgumentOutOfRangeException>(() => LogitsProcessors.TopK(new float[3], -1));
    }

    [Fact]
    public void Top_k_matches_a_full_sort_on_a_large_random_row()
    {
        var random = new Random(5);
        float[] scores = [.. Enumerable.Range(0, 5000).Select(_ => (float)Math.Round(random.NextDouble() * 100, 1))];
        float kth = scores.OrderDescending().ElementAt(39);
        float[] kept = Apply(scores, s => LogitsProcessors.TopK(s, 40));
        for (int i = 0; i < scores.Length; i++) Assert.Equal(scores[i] >= kth ? scores[i] : Inf, kept[i]);
    }

    [Theory]
    [InlineData(0.30, new[] { 0 })]
    [InlineData(0.49, new[] { 0 })]
    [InlineData(0.51, new[] { 0, 1 })]
    [InlineData(0.74, new[] { 0, 1 })]
    [InlineData(0.76, new[] { 0, 1, 2 })]
    [InlineData(0.87, new[] { 0, 1, 2 })]
    [InlineData(0.88, new[] { 0, 1, 2, 3 })]
    [InlineData(1.00, new[] { 0, 1, 2, 3 })]
    public void Top_p_keeps_the_smallest_set_reaching_p(double p, int[] kept)
    {
        // Probabilities 0.5, 0.25, 0.125, 0.125: cumulative 0.5, 0.75, 0.875, 1. The tie keeps the lower id first.
        float[] scores = [MathF.Log(0.5f), MathF.Log(0.25f), MathF.Log(0.125f), MathF.Log(0.125f)];
        float[] row = Apply(scores, s => LogitsProcessors.TopP(s, p));
        Assert.Equal(kept, Enumerable.Range(0, 4).Where(i => !float.IsNegativeInfinity(row[i])).ToArray());
    }

    [Fact]
    public void Top_p_works_on_unsorted_rows_and_keeps_at_least_min_tokens()
    {
        float[] a = [.. new[] { 0.125f, 0.5f, 0.125f, 0.25f }.Select(x => MathF.Log(x))];
        float[] b = [.. new[] { 0.7f, 0.1f, 0.1f, 0.1f }.Select(x => MathF.Log(x))];
        Assert.Equal([false, true, false, true], Apply(a, s => LogitsProcessors.TopP(s, 0.6)).Select(float.IsFinite).ToArray());
        Assert.Equal([true, false, false, false], Apply(b, s => LogitsProcessors.TopP(s, 0.6)).Select(float.IsFinite).ToArray());
        Assert.Equal(2, Apply(a, s => LogitsProcessors.TopP(s, 0.01, minTokensToKeep: 2)).Count(float.IsFinite));
        Assert.Equal(2, Apply(b, s => LogitsProcessors.TopP(s, 0.01, minTokensToKeep: 2)).Count(float.IsFinite));
        Assert.Single(Apply(a, s => LogitsProcessors.TopP(s, 1e-6)), float.IsFinite);
        // Tokens already removed (top-k) stay removed and do not count.
        Assert.Equal([false, true, false, true], Apply([Inf, a[1], Inf, a[3]], s => LogitsProcessors.TopP(s, 0.99)).Select(float.IsFinite).ToArray());
        Assert.Throws<ArgumentOutOfRangeException>(() => LogitsProcessors.TopP(new float[2], 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => LogitsProcessors.TopP(new float[2], 0.5, 0));
    }

    [Fact]
    public void Greedy_takes_the_argmax_and_the_lowest_id_on_ties()
    {
        Assert.Equal(1, LogitsProcessors.Greedy([0.1f, 0.9f, 0.3f]));
        Assert.Equal(0, LogitsProcessors.Greedy([5f, 1f, 5f]));
        Assert.Throws<ArgumentException>(() => LogitsProcessors.Greedy([]));
    }

    [Fact]
    public void Sampling_follows_the_distribution_draws_only_finite_scores_and_repeats_with_the_seed()
    {
        float[] scores = [MathF.Log(0.7f), MathF.Log(0.2f), MathF.Log(0.1f)];
        var random = new DeterministicRandom(7);
        var counts = new int[3];
        for (int i = 0; i < 20000; i++) counts[LogitsProcessors.Sample(scores, random)]++;
        Assert.InRange(counts[0] / 20000.0, 0.68, 0.72);
        Assert.InRange(counts[1] / 20000.0, 0.18, 0.22);

        float[] uniform = new float[1000];
        int[] Draw(ulong seed)
        {
            var r = new DeterministicRandom(seed);
            return [.. Enumerable.Range(0, 20).Select(_ => LogitsProcessors.Sample(uniform, r))];
        }
        Assert.Equal(Draw(3), Draw(3));
        Assert.NotEqual(Draw(3), Draw(4));
        float[] one = [.. Enumerable.Repeat(Inf, 10)];
        one[7] = 0;
        Assert.Equal(7, LogitsProcessors.Sample(one, new DeterministicRandom(1)));
        Assert.Throws<ArgumentException>(() => LogitsProcessors.Sample([Inf, Inf], new DeterministicRandom(1)));
    }

    [Fact]
    public void Softmax_is_exact_zero_for_removed_tokens_and_sums_to_one()
    {
        double[] p = LogitsProcessors.Softmax([0f, Inf, MathF.Log(3f)]);
        Assert.Equal(0, p[1]);
        Assert.Equal(0.25, p[0], 1e-7);
        Assert.Equal(0.75, p[2], 1e-7);
    }

    [Fact]
    public void DeterministicRandom_gives_SplitMix64s_known_first_value()
    {
        // SplitMix64 seeded with 0: first output 0xE220A8397B1DCDAF (the reference C implementation's).
        Assert.Equal(0xE220A8397B1DCDAFUL, new DeterministicRandom(0).NextUInt64());
        double u = new DeterministicRandom(0).NextDouble();
        Assert.Equal((0xE220A8397B1DCDAFUL >> 11) / (double)(1UL << 53), u);
    }

    [Fact]
    public void The_sampler_applies_the_config_in_transformers_order()
    {
        // Greedy after the repetition penalty: id 0 (score 3, seen) drops below id 1 (score 2).
        var greedy = new TokenSampler(new GenerationConfig { RepetitionPenalty = 2 });
        Assert.Equal(1, greedy.Next([3f, 2f, -1f], [0]));
        // Top-k 1 leaves one token to sample, whatever the seed.
        var topK = new TokenSampler(new GenerationConfig { DoSample = true, TopK = 1, Seed = 9 });
        Assert.Equal(2, topK.Next([0f, 1f, 5f], []));
        // Same seed, same draws.
        float[] flat = new float[50];
        int[] Draws(long seed)
        {
            var s = new TokenSampler(new GenerationConfig { DoSample = true, TopK = 0, Seed = seed });
            return [.. Enumerable.Range(0, 10).Select(_ => s.Next((float[])flat.Clone(), []))];
        }
        Assert.Equal(Draws(1), Draws(1));
        Assert.NotEqual(Draws(1), Draws(2));
    }
}
