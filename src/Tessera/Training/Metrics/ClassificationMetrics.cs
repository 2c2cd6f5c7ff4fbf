using TorchSharp;
using static TorchSharp.torch;

namespace Tessera.Training.Metrics;

/// <summary>
/// Single-label classification metrics as pure functions over tensors (any device) or a confusion matrix.
/// Predictions are either logits/probabilities with one more trailing dimension than the targets (the class is
/// their argmax over the last dimension) or integer class indices shaped like the targets.
/// </summary>
public static class ClassificationMetrics
{
    /// <summary>Fraction of examples whose predicted class equals the target.</summary>
    /// <param name="logitsOrPreds">Scores <c>[..., C]</c> or integer class indices shaped like <paramref name="targets"/>.</param>
    /// <param name="targets">Integer class indices.</param>
    /// <exception cref="ArgumentException">Shapes do not fit together, or there are no examples.</exception>
    public static double Accuracy(Tensor logitsOrPreds, Tensor targets)
    {
        using var scope = NewDisposeScope();
        var preds = ToClassIndices(logitsOrPreds, targets);
        long n = targets.numel();
        if (n == 0) throw new ArgumentException("Accuracy of zero examples is undefined.", nameof(targets));
        long correct = preds.eq(targets).sum().item<long>();
        return (double)correct / n;
    }

    /// <summary>Fraction of examples whose target is among the <paramref name="k"/> highest-scoring classes.</summary>
    /// <param name="logits">Scores <c>[..., C]</c>.</param>
    /// <param name="targets">Integer class indices shaped like <paramref name="logits"/> without its last dimension.</param>
    /// <param name="k">How many top classes count as a hit, 1..C.</param>
    /// <exception cref="ArgumentException">Shapes do not fit, <paramref name="k"/> is out of range, or there are no examples.</exception>
    public static double TopKAccuracy(Tensor logits, Tensor targets, int k)
    {
        if (logits.dim() != targets.dim() + 1 || !logits.shape.Take((int)targets.dim()).SequenceEqual(targets.shape))
            throw new ArgumentException(
                $"Top-k accuracy needs logits [..., C] and targets [...]; got [{string.Join(", ", logits.shape)}] and [{string.Join(", ", targets.shape)}].");
        long classes = logits.shape[^1];
        if (k < 1 || k > classes)
            throw new ArgumentOutOfRangeException(nameof(k), k, $"k must be between 1 and the number of classes ({classes}).");
        long n = targets.numel();
        if (n == 0) throw new ArgumentException("Accuracy of zero examples is undefined.", nameof(targets));
        using var scope = NewDisposeScope();
        var top = logits.topk(k, dim: -1).indexes;
        long hits = top.eq(targets.to_type(ScalarType.Int64).unsqueeze(-1)).any(-1).sum().item<long>();
        return (double)hits / n;
    }

    /// <summary>
    /// The confusion matrix: entry [t, p] counts examples of true class t predicted as p. Computed in one
    /// <c>bincount</c> over <c>target * numClasses + pred</c> on the tensors' device.
    /// </summary>
    /// <param name="preds">Scores <c>[..., C]</c> or integer class indices shaped like <paramref name="targets"/>.</param>
    /// <param name="targets">Integer class indices.</param>
    /// <param name="numClasses">Number of classes C.</param>
    /// <exception cref="ArgumentException">Shapes do not fit, or a class index lies outside 0..C-1.</exception>
    public static long[,] ConfusionMatrix(Tensor preds, Tensor targets, int numClasses)
    {
        if (numClasses < 1) throw new ArgumentOutOfRangeException(nameof(numClasses), numClasses, "Need at least one class.");
        using var scope = NewDisposeScope();
        var p = ToClassIndices(preds, targets).flatten();
        var t = targets.to_type(ScalarType.Int64).flatten();
        var cm = new long[numClasses, numClasses];
        if (t.numel() == 0) return cm;
        CheckRange(p, numClasses, nameof(preds));
        CheckRange(t, numClasses, nameof(targets));
        var counts = (t * numClasses + p).bincount(null, minlength: (long)numClasses * numClasses).cpu().to_type(ScalarType.Int64);
        var flat = counts.data<long>().ToArray();
        Buffer.BlockCopy(flat, 0, cm, 0, flat.Length * sizeof(long));
        return cm;
    }

    /// <summary>Precision, recall and F1 per class and averaged, from a confusion matrix (rows true, columns predicted).</summary>
    /// <remarks>
    /// Undefined ratios (a class never predicted, or with no support) are 0, like sklearn's <c>zero_division=0</c>
    /// with <c>labels=range(C)</c>: Macro averages over all C classes.
    /// </remarks>
    /// <exception cref="ArgumentException">The matrix is not square or has negative counts.</exception>
    public static PrecisionRecallF1 FromConfusion(long[,] cm, Averaging averaging)
    {
        ArgumentNullException.ThrowIfNull(cm);
        int c = cm.GetLength(0);
        if (c != cm.GetLength(1)) throw new ArgumentException($"Confusion matrix must be square; got {c}x{cm.GetLength(1)}.", nameof(cm));

        var tp = new long[c];
        var predicted = new long[c];
        var support = new long[c];
        for (int t = 0; t < c; t++)
            for (int p = 0; p < c; p++)
            {
                long v = cm[t, p];
                if (v < 0) throw new ArgumentException($"Confusion matrix entry [{t}, {p}] is negative ({v}).", nameof(cm));
                support[t] += v;
                predicted[p] += v;
                if (t == p) tp[t] = v;
            }

        var precision = new double[c];
        var recall = new double[c];
        var f1 = new double[c];
        for (int i = 0; i < c; i++)
        {
            precision[i] = SafeDivide(tp[i], predicted[i]);
            recall[i] = SafeDivide(tp[i], support[i]);
            // 2tp / (2tp + fp + fn) = 2tp / (predicted + support) equals the harmonic mean of precision and recall wherever both are defined.
            f1[i] = SafeDivide(2 * tp[i], predicted[i] + support[i]);
        }

        double avgP, avgR, avgF;
        switch (averaging)
        {
            case Averaging.Macro:
                avgP = c == 0 ? 0 : precision.Average();
                avgR = c == 0 ? 0 : recall.Average();
                avgF = c == 0 ? 0 : f1.Average();
                break;
            case Averaging.Micro:
                long sumTp = tp.Sum(), sumPred = predicted.Sum(), sumSupport = support.Sum();
                avgP = SafeDivide(sumTp, sumPred);
                avgR = SafeDivide(sumTp, sumSupport);
                avgF = SafeDivide(2 * sumTp, sumPred + sumSupport);
                break;
            case Averaging.Weighted:
                long total = support.Sum();
                avgP = Weighted(precision, support, total);
                avgR = Weighted(recall, support, total);
                avgF = Weighted(f1, support, total);
                break;
            default:
                throw new ArgumentOutOfRangeException(nameof(averaging), averaging, "Unknown averaging.");
        }
        return new PrecisionRecallF1(averaging, avgP, avgR, avgF, precision, recall, f1, support);
    }

    static double SafeDivide(long numerator, long denominator) => denominator == 0 ? 0 : (double)numerator / denominator;

    static double Weighted(double[] values, long[] weights, long total)
    {
        if (total == 0) return 0;
        double sum = 0;
        for (int i = 0; i < values.Length; i++) sum += values[i] * weights[i];
        return sum / total;
    }

    /// <summary>Argmax over the last dimension for scores; integer indices pass through as int64.</summary>
    internal static Tensor ToClassIndices(Tensor logitsOrPreds, Tensor targets)
    {
        if (targets.is_floating_point() || targets.dtype == ScalarType.Bool)
            throw new ArgumentException($"Targets must be integer class indices; got {targets.dtype}.", nameof(targets));
        if (logitsOrPreds.dim() == targets.dim() + 1 && logitsOrPreds.shape.Take((int)targets.dim()).SequenceEqual(targets.shape))
            return logitsOrPreds.argmax(-1);
        if (logitsOrPreds.shape.SequenceEqual(targets.shape))
        {
            if (logitsOrPreds.is_floating_point())
                throw new ArgumentException(
                    $"Predictions shaped like the targets must be integer class indices; got {logitsOrPreds.dtype}. Pass scores as [..., C].",
                    nameof(logitsOrPreds));
            return logitsOrPreds.to_type(ScalarType.Int64);
        }
        throw new ArgumentException(
            $"Predictions [{string.Join(", ", logitsOrPreds.shape)}] fit neither targets [{string.Join(", ", targets.shape)}] nor [..., C] scores.",
            nameof(logitsOrPreds));
    }

    static void CheckRange(Tensor indices, int numClasses, string name)
    {
        long min = indices.min().item<long>(), max = indices.max().item<long>();
        if (min < 0 || max >= numClasses)
            throw new ArgumentException($"Class indices must lie in 0..{numClasses - 1}; found {(min < 0 ? min : max)}.", name);
    }
}
