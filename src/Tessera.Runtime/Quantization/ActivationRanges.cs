namespace Tessera.Runtime.Quantization;

/// <summary>
/// Ranges of activation tensors over calibration data, and the clipping range each <see cref="CalibrationMethod"/>
/// derives from them. Min/max come from a first pass; entropy and percentile need a histogram of |x| over
/// [0, max|x|] from a second pass.
/// </summary>
internal sealed class ActivationRanges
{
    public const int Bins = 2048;
    readonly Dictionary<string, (float Min, float Max)> minMax = new(StringComparer.Ordinal);
    readonly Dictionary<string, long[]> histograms = new(StringComparer.Ordinal);

    public IReadOnlyDictionary<string, (float Min, float Max)> MinMax => minMax;

    public void ObserveMinMax(string name, ReadOnlySpan<float> values)
    {
        if (values.IsEmpty) return;
        float min = float.PositiveInfinity, max = float.NegativeInfinity;
        foreach (float v in values)
        {
            if (v < min) min = v;
            if (v > max) max = v;
        }
        minMax[name] = minMax.TryGetValue(name, out var r) ? (Math.Min(r.Min, min), Math.Max(r.Max, max)) : (min, max);
    }

    public void ObserveHistogram(string name, ReadOnlySpan<float> values)
    {
        float top = AbsMax(name);
        if (top <= 0) return;
        if (!histograms.TryGetValue(name, out var h)) histograms[name] = h = new long[Bins];
        float scale = Bins / top;
        foreach (float v in values)
        {
            int bin = (int)(Math.Abs(v) * scale);
            h[Math.Min(bin, Bins - 1)]++;
        }
    }

    float AbsMax(string name) => minMax.TryGetValue(name, out var r) ? Math.Max(Math.Abs(r.Min), Math.Abs(r.Max)) : 0f;

    /// <summary>The float range [min, max] to quantize <paramref name="name"/> over (always containing 0).</summary>
    public (float Min, float Max) Range(string name, CalibrationMethod method, double percentile)
    {
        if (!minMax.TryGetValue(name, out var r)) throw new InvalidOperationException($"no calibration values for '{name}'");
        float min = Math.Min(r.Min, 0f), max = Math.Max(r.Max, 0f);
        if (method == CalibrationMethod.MinMax || !histograms.TryGetValue(name, out var h)) return (min, max);
        float binWidth = AbsMax(name) / Bins;
        float threshold = method == CalibrationMethod.Percentile ? PercentileThreshold(h, percentile) * binWidth : EntropyThreshold(h) * binWidth;
        return (Math.Max(min, -threshold), Math.Min(max, threshold));
    }

    /// <summary>Upper edge (in bins) below which <paramref name="percentile"/> % of the values lie.</summary>
    internal static int PercentileThreshold(long[] histogram, double percentile)
    {
        long total = histogram.Sum(), seen = 0;
        double wanted = total * percentile / 100;
        for (int i = 0; i < histogram.Length; i++)
        {
            seen += histogram[i];
            if (seen >= wanted) return i + 1;
        }
        return histogram.Length;
    }

    /// <summary>
    /// Upper edge (in bins) of the clipping threshold with the least KL divergence between the clipped float
    /// histogram P (outliers folded into the last bin) and Q, the unclipped bins quantized to 128 levels.
    /// </summary>
    internal static int EntropyThreshold(long[] histogram, int levels = 128)
    {
        int best = histogram.Length;
        double bestDivergence = double.PositiveInfinity;
        var p = new double[histogram.Length];
        var q = new double[histogram.Length];
        for (int edge = levels; edge <= histogram.Length; edge += 16)
        {
            for (int i = 0; i < edge; i++) p[i] = histogram[i];
            for (int i = edge; i < histogram.Length; i++) p[edge - 1] += histogram[i];
            // Q: the first `edge` bins WITHOUT the folded outliers, merged into `levels` groups, each group's mass spread
            // over its non-empty bins; so clipping costs divergence in the last bin (TensorRT's calibration).
            for (int g = 0; g < levels; g++)
            {
                int start = g * edge / levels, end = (g + 1) * edge / levels;
                double mass = 0;
                int nonEmpty = 0;
                for (int i = start; i < end; i++) { mass += histogram[i]; if (histogram[i] > 0) nonEmpty++; }
                for (int i = start; i < end; i++) q[i] = histogram[i] > 0 ? mass / nonEmpty : 0;
            }
            double pSum = 0, qSum = 0;
            for (int i = 0; i < edge; i++) { pSum += p[i]; qSum += q[i]; }
            if (pSum == 0 || qSum == 0) continue;
            double divergence = 0;
            for (int i = 0; i < edge; i++)
            {
                if (p[i] == 0) continue;
                double pi = p[i] / pSum, qi = q[i] / qSum;
                divergence += qi > 0 ? pi * Math.Log(pi / qi) : pi * 20; // an empty q bin where p has mass: heavy penalty
            }
            if (divergence < bestDivergence) { bestDivergence = divergence; best = edge; }
        }
        return best;
    }
}
