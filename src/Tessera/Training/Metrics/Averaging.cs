namespace Tessera.Training.Metrics;

/// <summary>How per-class precision, recall and F1 are combined into one number (sklearn's <c>average=</c>).</summary>
public enum Averaging
{
    /// <summary>Unweighted mean over all classes; a class with no support and no predictions counts as 0.</summary>
    Macro,

    /// <summary>From the summed true positives, false positives and false negatives; equals accuracy for single-label data.</summary>
    Micro,

    /// <summary>Mean over classes weighted by support (the number of true examples of each class).</summary>
    Weighted,
}
