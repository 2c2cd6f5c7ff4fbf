namespace Tessera.Training;

/// <summary>
/// fastai's ways of reading a learning-rate finder curve (loss against exponentially growing LR), as pure functions
/// returning the index of the suggested point.
/// </summary>
public static class LrSuggestions
{
    /// <summary>
    /// fastai's "valley": finds the longest strictly decreasing subsequence of the losses (O(n²)), takes its end
    /// <c>e</c> and length <c>L</c>, its start as <c>s = e - L</c>, and suggests index <c>s + ⌊(e-s)/3⌋ + ⌊(e-s)/6⌋</c>,
    /// about halfway down the valley: far enough from the minimum that training is stable, steep enough to be fast.
    /// </summary>
    /// <exception cref="ArgumentException"><paramref name="losses"/> is empty.</exception>
    public static int ValleyIndex(IReadOnlyList<double> losses)
    {
        ArgumentNullException.ThrowIfNull(losses);
        int n = losses.Count;
        if (n == 0) throw new ArgumentException("Need at least one loss.", nameof(losses));
        var length = new int[n];
        Array.Fill(length, 1);
        int bestEnd = 0, bestStart = 0;
        for (int i = 1; i < n; i++)
        {
            for (int j = 0; j < i; j++)
            {
                if (losses[i] < losses[j] && length[i] < length[j] + 1) length[i] = length[j] + 1;
                if (length[bestEnd] < length[i])
                {
                    bestEnd = i;
                    bestStart = bestEnd - length[bestEnd];
                }
            }
        }
        double sections = (bestEnd - bestStart) / 3.0;
        int idx = bestStart + (int)sections + (int)(sections / 2);
        // fastai's start can be -1 when the valley begins at index 0; clamp instead of wrapping around.
        return Math.Clamp(idx, 0, n - 1);
    }

    /// <summary>fastai's "steep": the point where the loss falls fastest per unit of log(LR) (the left end of the steepest segment).</summary>
    /// <exception cref="ArgumentException">The lists are empty or differ in length.</exception>
    public static int SteepestIndex(IReadOnlyList<double> learningRates, IReadOnlyList<double> losses)
    {
        Check(learningRates, losses);
        int best = 0;
        double steepest = double.PositiveInfinity;
        for (int i = 0; i + 1 < losses.Count; i++)
        {
            double slope = (losses[i + 1] - losses[i]) / (Math.Log(learningRates[i + 1]) - Math.Log(learningRates[i]));
            if (slope < steepest)
            {
                steepest = slope;
                best = i;
            }
        }
        return best;
    }

    /// <summary>Index of the lowest loss (fastai's "minimum" suggests a tenth of the LR there).</summary>
    /// <exception cref="ArgumentException"><paramref name="losses"/> is empty.</exception>
    public static int MinimumIndex(IReadOnlyList<double> losses)
    {
        ArgumentNullException.ThrowIfNull(losses);
        if (losses.Count == 0) throw new ArgumentException("Need at least one loss.", nameof(losses));
        int best = 0;
        for (int i = 1; i < losses.Count; i++)
            if (losses[i] < losses[best]) best = i;
        return best;
    }

    static void Check(IReadOnlyList<double> learningRates, IReadOnlyList<double> losses)
    {
        ArgumentNullException.ThrowIfNull(learningRates);
        ArgumentNullException.ThrowIfNull(losses);
        if (losses.Count == 0) throw new ArgumentException("Need at least one loss.", nameof(losses));
        if (learningRates.Count != losses.Count)
            throw new ArgumentException($"Got {learningRates.Count} learning rates but {losses.Count} losses.", nameof(learningRates));
    }
}
