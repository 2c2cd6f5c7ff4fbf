using Tessera.Text.Generation;
using static TorchSharp.torch;

namespace Tessera.Tests.Text.Generation;

public class LogitsProcessorsTests
{
    static float[] Row(Tensor t) => t.to_type(ScalarType.Float32).data<float>().ToArray();

    static Tensor Scores(params float[] values) => tensor(values).unsqueeze(0);

    static float Inf => float.NegativeInfinity;

    [Fact]
    public void Repetition_penalty_divides_positive_and_multiplies_negative_scores_of_seen_ids()
    {
        using var scope = NewDisposeScope();
        Tensor scores = Scores(2, -2, 1, -1);
        Tensor seen = tensor(new long[] { 0, 1, 1 }).unsqueeze(0);
        Assert.Equal([1f, -4f, 1f, -1f], Row(LogitsProcessors.RepetitionPenalty(scores, seen, 2.0)));
        Assert.Equal([2f, -2f, 1f, -1f], Row(scores)); // input untouched
        // Below 1 it rewards repetition, mirrored.
        Assert.Equal([4f, -1f, 1f, -1f], Row(LogitsProcessors.RepetitionPenalty(scores, seen, 0.5)));
    }

    [Fact]
    public void Repetition_penalty_skips_padding_positions()
    {
        using var scope = NewDisposeScope();
        Tensor scores = Scores(2, -2, 1, -1);
        Tensor seen = tensor(new long[] { 0, 1 }).unsqueeze(0);
        Tensor mask = tensor(new long[] { 0, 1 }).unsqueeze(0);
        Assert.Equal([2f, -4f, 1f, -1f], Row(LogitsProcessors.RepetitionPenalty(scores, seen, 2.0, mask)));
    }

    [Fact]
    public void Temperature_divides_the_scores()
    {
        using var scope = NewDisposeScope();
        Assert.Equal([2f, -4f], Row(LogitsProcessors.Temperature(Scores(1, -2), 0.5)));
        Assert.Throws<ArgumentOutOfRangeException>(() => LogitsProcessors.Temperature(Scores(1), 0));
    }

    [Fact]
    public void Top_k_keeps_the_k_best_and_every_token_tied_with_the_kth()
    {
        using var scope = NewDisposeScope();
        Tensor scores = Scores(1, 3, 3, 2);
        Assert.Equal([Inf, 3f, 3f, Inf], Row(LogitsProcessors.TopK(scores, 1)));
        Assert.Equal([Inf, 3f, 3f, Inf], Row(LogitsProcessors.TopK(scores, 2)));
        Assert.Equal([Inf, 3f, 3f, 2f], Row(LogitsProcessors.TopK(scores, 3)));
        Assert.Equal([1f, 3f, 3f, 2f], Row(LogitsProcessors.TopK(scores, 0)));
        Assert.Equal([1f, 3f, 3f, 2f], Row(LogitsProcessors.TopK(scores, 10)));
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
        using var scope = NewDisposeScope();
        // Probabilities 0.5, 0.25, 0.125, 0.125: cumulative 0.5, 0.75, 0.875, 1. The tie keeps the lower id first.
        Tensor scores = tensor(new[] { 0.5f, 0.25f, 0.125f, 0.125f }).log().unsqueeze(0);
        float[] row = Row(LogitsProcessors.TopP(scores, p));
        Assert.Equal(kept, Enumerable.Range(0, 4).Where(i => !float.IsNegativeInfinity(row[i])).ToArray());
    }

    [Fact]
    public void Top_p_works_on_unsorted_rows_and_keeps_at_least_min_tokens()
    {
        using var scope = NewDisposeScope();
        Tensor scores = tensor(new[] { 0.125f, 0.5f, 0.125f, 0.25f, 0.7f, 0.1f, 0.1f, 0.1f }).log().view(2, 4);
        float[] all = Row(LogitsProcessors.TopP(scores, 0.6));
        Assert.Equal([false, true, false, true], all[..4].Select(float.IsFinite).ToArray());
        Assert.Equal([true, false, false, false], all[4..].Select(float.IsFinite).ToArray());
        float[] two = Row(LogitsProcessors.TopP(scores, 0.01, minTokensToKeep: 2));
        Assert.Equal(2, two[..4].Count(float.IsFinite));
        Assert.Equal(2, two[4..].Count(float.IsFinite));
        Assert.Equal(1, Row(LogitsProcessors.TopP(scores, 1e-6))[..4].Count(float.IsFinite));
    }

    [Fact]
    public void Greedy_takes_the_argmax_and_the_lowest_id_on_ties()
    {
        using var scope = NewDisposeScope();
        Tensor scores = tensor(new[] { 0.1f, 0.9f, 0.3f, 5f, 1f, 5f }).view(2, 3);
        Assert.Equal([1L, 0L], LogitsProcessors.Greedy(scores).data<long>().ToArray());
    }

    [Fact]
    public void Sampling_with_a_seeded_generator_is_reproducible()
    {
        using var scope = NewDisposeScope();
        Tensor scores = zeros(4, 1000);
        long[] Draw(ulong seed)
        {
            using var g = new TorchSharp.torch.Generator(seed);
            return [.. Enumerable.Range(0, 5).SelectMany(_ => LogitsProcessors.Sample(scores, g).data<long>().ToArray())];
        }
        Assert.Equal(Draw(3), Draw(3));
        Assert.NotEqual(Draw(3), Draw(4));
        // Only finite scores can be drawn.
        Tensor one = full(2, 10, float.NegativeInfinity).index_put_(tensor(0f), TensorIndex.Colon, TensorIndex.Single(7));
        Assert.Equal([7L, 7L], LogitsProcessors.Sample(one).data<long>().ToArray());
    }
}
