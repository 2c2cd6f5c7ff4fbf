using static TorchSharp.torch;

namespace Tessera.Training.Metrics;

/// <summary>
/// Accumulates a confusion matrix over the batches of an epoch, so that precision, recall and F1 are computed
/// over the whole epoch rather than averaged per batch (which would be wrong for F1).
/// </summary>
/// <example>
/// <code>
/// var acc = new ConfusionMatrixAccumulator(10);
/// foreach (var batch in loader.Epoch(0)) { using (batch) acc.Update(model.forward(batch.Inputs), batch.Targets); }
/// var report = acc.Compute(); // report.Accuracy, report.MacroF1, report.PerClassRecall ...
/// </code>
/// </example>
public sealed class ConfusionMatrixAccumulator
{
    readonly long[,] counts;

    /// <summary>Creates an empty accumulator for <paramref name="numClasses"/> classes.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="numClasses"/> is less than 1.</exception>
    public ConfusionMatrixAccumulator(int numClasses)
    {
        if (numClasses < 1) throw new ArgumentOutOfRangeException(nameof(numClasses), numClasses, "Need at least one class.");
        NumClasses = numClasses;
        counts = new long[numClasses, numClasses];
    }

    /// <summary>Number of classes.</summary>
    public int NumClasses { get; }

    /// <summary>Number of examples seen since the last <see cref="Reset"/>.</summary>
    public long Count { get; private set; }

    /// <summary>Adds one batch. Neither tensor is modified or disposed.</summary>
    /// <param name="logitsOrPreds">Scores <c>[..., C]</c> or integer class indices shaped like <paramref name="targets"/>.</param>
    /// <param name="targets">Integer class indices.</param>
    /// <exception cref="ArgumentException">Shapes do not fit, or a class index lies outside 0..C-1.</exception>
    public void Update(Tensor logitsOrPreds, Tensor targets)
    {
        long[,] batch;
        using (NewDisposeScope())
            batch = ClassificationMetrics.ConfusionMatrix(logitsOrPreds.detach(), targets, NumClasses);
        for (int t = 0; t < NumClasses; t++)
            for (int p = 0; p < NumClasses; p++)
                counts[t, p] += batch[t, p];
        Count += targets.numel();
    }

    /// <summary>Metrics over everything added since the last <see cref="Reset"/>.</summary>
    public ClassificationReport Compute()
    {
        var cm = (long[,])counts.Clone();
        long correct = 0;
        for (int i = 0; i < NumClasses; i++) correct += cm[i, i];
        double accuracy = Count == 0 ? 0 : (double)correct / Count;
        return new ClassificationReport(cm, Count, accuracy,
            ClassificationMetrics.FromConfusion(cm, Averaging.Macro),
            ClassificationMetrics.FromConfusion(cm, Averaging.Weighted));
    }

    /// <summary>Forgets all batches, e.g. at the start of an epoch.</summary>
    public void Reset()
    {
        Array.Clear(counts);
        Count = 0;
    }
}
