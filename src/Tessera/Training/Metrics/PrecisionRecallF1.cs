namespace Tessera.Training.Metrics;

/// <summary>Precision, recall and F1, averaged as <see cref="Averaging"/> says, plus the per-class values they came from.</summary>
/// <param name="Averaging">How <paramref name="Precision"/>, <paramref name="Recall"/> and <paramref name="F1"/> were averaged.</param>
/// <param name="Precision">Averaged precision.</param>
/// <param name="Recall">Averaged recall.</param>
/// <param name="F1">Averaged F1 (for Macro and Weighted, the average of per-class F1, as in sklearn).</param>
/// <param name="PerClassPrecision">tp / (tp + fp) per class; 0 where the class was never predicted.</param>
/// <param name="PerClassRecall">tp / (tp + fn) per class; 0 where the class has no support.</param>
/// <param name="PerClassF1">2·tp / (2·tp + fp + fn) per class; 0 where that denominator is 0.</param>
/// <param name="Support">Number of true examples of each class.</param>
public sealed record PrecisionRecallF1(
    Averaging Averaging,
    double Precision,
    double Recall,
    double F1,
    IReadOnlyList<double> PerClassPrecision,
    IReadOnlyList<double> PerClassRecall,
    IReadOnlyList<double> PerClassF1,
    IReadOnlyList<long> Support);
