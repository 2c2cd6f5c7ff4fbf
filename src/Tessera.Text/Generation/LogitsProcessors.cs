namespace Tessera.Text.Generation;

/// <summary>
/// The steps between a model's next-token logits and the chosen token, on one row of scores (a span over the
/// vocabulary), as <c>transformers</c>' logits processors do them. Filters change the scores in place; removed tokens get
/// negative infinity, so a softmax gives them probability 0. <see cref="TokenSampler"/> applies them in
/// <c>transformers</c>' order: repetition penalty, then (when sampling) temperature, top-k, top-p.
/// </summary>
public static class LogitsProcessors
{
    /// <summary>
    /// CTRL's repetition penalty as <c>transformers</c> applies it: the score of every id in <paramref name="previousIds"/>
    /// becomes <c>score * penalty</c> when negative and <c>score / penalty</c> otherwise, so a penalty above 1 always
    /// makes a seen token less likely. Each id is penalized once however often it occurs; ids outside the vocabulary are ignored.
    /// </summary>
    /// <param name="scores">One row of logits.</param>
    /// <param name="previousIds">Ids seen so far (prompt without padding, and the generated ids).</param>
    /// <param name="penalty">Positive; 1 leaves the scores unchanged.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="penalty"/> is not positive.</exception>
    public static void RepetitionPenalty(Span<float> scores, IEnumerable<int> previousIds, double penalty)
    {
        ArgumentNullException.ThrowIfNull(previousIds);
        if (!(penalty > 0)) throw new ArgumentOutOfRangeException(nameof(penalty), penalty, "the repetition penalty must be positive");
        var done = previousIds as IReadOnlySet<int> is null ? new HashSet<int>() : null;
        foreach (int id in previousIds)
        {
            if ((uint)id >= (uint)scores.Length || done?.Add(id) == false) continue;
            scores[id] = scores[id] < 0 ? (float)(scores[id] * penalty) : (float)(scores[id] / penalty);
        }
    }

    /// <summary>Divides every score by <paramref name="temperature"/>.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="temperature"/> is not positive.</exception>
    public static void Temperature(Span<float> scores, double temperature)
    {
        if (!(temperature > 0)) throw new ArgumentOutOfRangeException(nameof(temperature), temperature, "the temperature must be positive");
        for (int i = 0; i < scores.Length; i++) scores[i] = (float)(scores[i] / temperature);
    }

    /// <summary>
    /// Keeps the <paramref name="k"/> highest scores and sets the rest to negative infinity. Tokens tied with the k-th
    /// highest score are all kept (the <c>transformers</c> rule), so more than k may stay.
    /// </summary>
    /// <param name="scores">One row of logits.</param>
    /// <param name="k">How many to keep; 0, or at least the vocabulary size, keeps everything.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="k"/> is negative.</exception>
    public static void TopK(Span<float> scores, int k)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(k);
        if (k == 0 || k >= scores.Length) return;
        // The k largest so far, smallest on top: one pass, O(vocab log k).
        var largest = new PriorityQueue<float, float>(k);
        foreach (float s in scores)
        {
            if (largest.Count < k) largest.Enqueue(s, s);
            else if (s > largest.Peek()) largest.DequeueEnqueue(s, s);
        }
        float kth = largest.Peek();
        for (int i = 0; i < scores.Length; i++)
            if (scores[i] < kth) scores[i] = float.NegativeInfinity;
    }

    /// <summary>
    /// Nucleus filtering: keeps the smallest set of most likely tokens whose probabilities (softmax of the scores) add
    /// up to at least <paramref name="p"/>, and always at least <paramref name="minTokensToKeep"/> tokens; the others get
    /// negative infinity. Among tokens with equal scores the lower id is taken first.
    /// </summary>
    /// <param name="scores">One row of logits.</param>
    /// <param name="p">In (0, 1]; 1 keeps everything.</param>
    /// <param name="minTokensToKeep">At least 1.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="p"/> is outside (0, 1] or <paramref name="minTokensToKeep"/> is below 1.</exception>
    public static void TopP(Span<float> scores, double p, int minTokensToKeep = 1)
    {
        if (!(p > 0 && p <= 1)) throw new ArgumentOutOfRangeException(nameof(p), p, "top_p must be in (0, 1]");
        ArgumentOutOfRangeException.ThrowIfLessThan(minTokensToKeep, 1);
        if (p >= 1) return;
        double[] probs = Softmax(scores);
        float[] values = scores.ToArray();
        // Only tokens still possible take part; the rest are -inf already.
        int[] order = [.. Enumerable.Range(0, values.Length).Where(i => probs[i] > 0)];
        Array.Sort(order, (a, b) => values[a] != values[b] ? values[b].CompareTo(values[a]) : a.CompareTo(b));
        double before = 0;
        for (int rank = 0; rank < order.Length; rank++)
        {
            // A token is dropped when the more likely tokens before it already reach p.
            if (rank >= minTokensToKeep && before >= p) scores[order[rank]] = float.NegativeInfinity;
            before += probs[order[rank]];
        }
    }

    /// <summary>The index of the highest score; the lowest index wins a tie.</summary>
    /// <exception cref="ArgumentException">The span is empty.</exception>
    public static int Greedy(ReadOnlySpan<float> scores)
    {
        if (scores.IsEmpty) throw new ArgumentException("no scores", nameof(scores));
        int best = 0;
        for (int i = 1; i < scores.Length; i++)
            if (scores[i] > scores[best]) best = i;
        return best;
    }

    /// <summary>
    /// Draws an index with probability softmax(<paramref name="scores"/>), using one value of <paramref name="random"/>
    /// (inverse of the cumulative distribution in index order): the same seed and scores give the same index.
    /// </summary>
    /// <param name="scores">One row of logits; at least one finite score.</param>
    /// <param name="random">The random source.</param>
    /// <exception cref="ArgumentException">No score is finite.</exception>
    public static int Sample(ReadOnlySpan<float> scores, DeterministicRandom random)
    {
        ArgumentNullException.ThrowIfNull(random);
        double[] probs = Softmax(scores);
        double u = random.NextDouble(), cumulative = 0;
        int last = -1;
        for (int i = 0; i < probs.Length; i++)
        {
            if (probs[i] <= 0) continue;
            last = i;
            cumulative += probs[i];
            if (u < cumulative) return i;
        }
        return last >= 0 ? last : throw new ArgumentException("no token has a finite score", nameof(scores));
    }

    /// <summary>The softmax of <paramref name="scores"/> in double precision; negative infinity gives exactly 0.</summary>
    public static double[] Softmax(ReadOnlySpan<float> scores)
    {
        float max = float.NegativeInfinity;
        foreach (float s in scores) max = Math.Max(max, s);
        var result = new double[scores.Length];
        if (float.IsNegativeInfinity(max)) return result;
        double sum = 0;
        for (int i = 0; i < scores.Length; i++) sum += result[i] = float.IsNegativeInfinity(scores[i]) ? 0 : Math.Exp((double)scores[i] - max);
        for (int i = 0; i < result.Length; i++) result[i] /= sum;
        return result;
    }
}
