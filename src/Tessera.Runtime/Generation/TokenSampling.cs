namespace Tessera.Runtime.Generation;

/// <summary>
/// Next-token selection on one row of logits, as Hugging Face's logits processors do it: repetition penalty,
/// temperature, top-k, top-p (in that order), then argmax or a draw from the softmax. Filters set removed tokens to
/// negative infinity in place.
/// </summary>
public static class TokenSampling
{
    /// <summary>The index of the largest score (the first one on ties).</summary>
    /// <exception cref="ArgumentException">The span is empty.</exception>
    public static int Greedy(ReadOnlySpan<float> scores)
    {
        if (scores.IsEmpty) throw new ArgumentException("no scores", nameof(scores));
        int best = 0;
        for (int i = 1; i < scores.Length; i++) if (scores[i] > scores[best]) best = i;
        return best;
    }

    /// <summary>Divides positive scores of <paramref name="previous"/> tokens by <paramref name="penalty"/> and multiplies negative ones.</summary>
    public static void RepetitionPenalty(Span<float> scores, IEnumerable<int> previous, double penalty)
    {
        foreach (int id in previous.Distinct())
            if ((uint)id < (uint)scores.Length)
                scores[id] = (float)(scores[id] < 0 ? scores[id] * penalty : scores[id] / penalty);
    }

    /// <summary>Divides every score by <paramref name="temperature"/>.</summary>
    public static void Temperature(Span<float> scores, double temperature)
    {
        for (int i = 0; i < scores.Length; i++) scores[i] = (float)(scores[i] / temperature);
    }

    /// <summary>Keeps the <paramref name="k"/> largest scores (and any tied with the k-th).</summary>
    public static void TopK(Span<float> scores, int k)
    {
        if (k <= 0 || k >= scores.Length) return;
        float[] sorted = scores.ToArray();
        Array.Sort(sorted, (a, b) => b.CompareTo(a));
        float threshold = sorted[k - 1];
        for (int i = 0; i < scores.Length; i++) if (scores[i] < threshold) scores[i] = float.NegativeInfinity;
    }

    /// <summary>Keeps the smallest set of highest-probability tokens whose total probability reaches <paramref name="p"/> (at least <paramref name="minTokensToKeep"/>).</summary>
    public static void TopP(Span<float> scores, double p, int minTokensToKeep = 1)
    {
        if (p >= 1) return;
        double[] probs = Softmax(scores);
        int[] order = Enumerable.Range(0, scores.Length).OrderByDescending(i => probs[i]).ToArray();
        double cumulative = 0;
        for (int rank = 0; rank < order.Length; rank++)
        {
            if (rank >= minTokensToKeep && cumulative >= p) scores[order[rank]] = float.NegativeInfinity;
            cumulative += probs[order[rank]];
        }
    }

    /// <summary>Draws an index with probability softmax(<paramref name="scores"/>) using one value of <paramref name="random"/>.</summary>
    public static int Sample(ReadOnlySpan<float> scores, DeterministicRandom random)
    {
        double[] probs = Softmax(scores);
        double u = random.NextDouble(), cumulative = 0;
        int last = 0;
        for (int i = 0; i < probs.Length; i++)
        {
            if (probs[i] <= 0) continue;
            last = i;
            cumulative += probs[i];
            if (u < cumulative) return i;
        }
        return last;
    }

    /// <summary>Applies <paramref name="settings"/> to <paramref name="scores"/> (modified in place) and picks the next token.</summary>
    public static int Next(Span<float> scores, OrtGenerationSettings settings, IEnumerable<int> previous, DeterministicRandom random)
    {
        if (settings.RepetitionPenalty != 1) RepetitionPenalty(scores, previous, settings.RepetitionPenalty);
        if (!settings.DoSample) return Greedy(scores);
        if (settings.Temperature != 1) Temperature(scores, settings.Temperature);
        TopK(scores, settings.TopK);
        TopP(scores, settings.TopP);
        return Sample(scores, random);
    }

    /// <summary>softmax in double precision.</summary>
    public static double[] Softmax(ReadOnlySpan<float> scores)
    {
        float max = float.NegativeInfinity;
        foreach (float s in scores) max = Math.Max(max, s);
        var result = new double[scores.Length];
        double sum = 0;
        for (int i = 0; i < scores.Length; i++) sum += result[i] = float.IsNegativeInfinity(scores[i]) ? 0 : Math.Exp(scores[i] - max);
        for (int i = 0; i < result.Length; i++) result[i] /= sum;
        return result;
    }
}
