namespace Tessera.Training.Metrics;

/// <summary>Everything a confusion matrix says about a single-label classifier.</summary>
/// <param name="ConfusionMatrix">Counts: rows are true classes, columns predicted classes.</param>
/// <param name="Count">Number of examples.</param>
/// <param name="Accuracy">Fraction predicted correctly (0 when <paramref name="Count"/> is 0).</param>
/// <param name="Macro">Macro-averaged precision/recall/F1, with the per-class values.</param>
/// <param name="Weighted">Support-weighted precision/recall/F1.</param>
public sealed record ClassificationReport(
    long[,] ConfusionMatrix,
    long Count,
    double Accuracy,
    PrecisionRecallF1 Macro,
    PrecisionRecallF1 Weighted)
{
    /// <summary>Unweighted mean of the per-class F1 scores.</summary>
    public double MacroF1 => Macro.F1;

    /// <summary>Precision of each class.</summary>
    public IReadOnlyList<double> PerClassPrecision => Macro.PerClassPrecision;

    /// <summary>Recall of each class.</summary>
    public IReadOnlyList<double> PerClassRecall => Macro.PerClassRecall;

    /// <summary>F1 of each class.</summary>
    public IReadOnlyList<double> PerClassF1 => Macro.PerClassF1;

    /// <summary>Scalar metrics named for logging: <c>{prefix}acc</c>, <c>{prefix}macro_precision</c>, <c>{prefix}macro_recall</c>, <c>{prefix}macro_f1</c>, <c>{prefix}weighted_f1</c>.</summary>
    /// <param name="prefix">Prepended to each name, e.g. <c>val_</c>.</param>
    public IReadOnlyDictionary<string, double> ToMetrics(string prefix = "") => new Dictionary<string, double>
    {
        [prefix + "acc"] = Accuracy,
        [prefix + "macro_precision"] = Macro.Precision,
        [prefix + "macro_recall"] = Macro.Recall,
        [prefix + "macro_f1"] = Macro.F1,
        [prefix + "weighted_f1"] = Weighted.F1,
    };
}
