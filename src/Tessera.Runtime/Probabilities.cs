namespace Tessera.Runtime;

/// <summary>Softmax and top-k over rows of class scores.</summary>
internal static class Probabilities
{
    /// <summary>
    /// Turns a row of scores into probabilities in place: a row that already is a distribution (non-negative, sums
    /// to 1 within 1e-3, as from a model ending in Softmax) is kept; anything else is treated as logits and softmaxed.
    /// </summary>
    public static void ToProbabilities(Span<float> row)
    {
        if (IsDistribution(row)) return;
        float max = float.NegativeInfinity;
        foreach (float v in row) max = MathF.Max(max, v);
        double sum = 0;
        for (int i = 0; i < row.Length; i++) { row[i] = MathF.Exp(row[i] - max); sum += row[i]; }
        float inv = (float)(1 / sum);
        for (int i = 0; i < row.Length; i++) row[i] *= inv;
    }

    static bool IsDistribution(ReadOnlySpan<float> row)
    {
        double sum = 0;
        foreach (float v in row)
        {
            if (!(v >= 0f && v <= 1f)) return false;
            sum += v;
        }
        return Math.Abs(sum - 1) <= 1e-3;
    }

    /// <summary>The <paramref name="k"/> largest entries, largest first (ties: lower index first).</summary>
    public static (int Index, float Value)[] TopK(ReadOnlySpan<float> row, int k)
    {
        k = Math.Min(k, row.Length);
        var best = new (int Index, float Value)[k];
        int filled = 0;
        for (int i = 0; i < row.Length; i++)
        {
            float v = row[i];
            if (filled == k && !(v > best[k - 1].Value)) continue;
            int pos = filled < k ? filled++ : k - 1;
            while (pos > 0 && v > best[pos - 1].Value) { best[pos] = best[pos - 1]; pos--; }
            best[pos] = (i, v);
        }
        return best;
    }
}
