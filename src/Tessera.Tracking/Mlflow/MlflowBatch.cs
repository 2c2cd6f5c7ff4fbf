namespace Tessera.Tracking.Mlflow;

/// <summary>
/// MLflow's limits on one runs/log-batch request, and the split of a larger batch into requests that keep them.
/// </summary>
public static class MlflowBatch
{
    /// <summary>At most this many metrics in one request.</summary>
    public const int MaxMetrics = 1000;

    /// <summary>At most this many params in one request.</summary>
    public const int MaxParams = 100;

    /// <summary>At most this many tags in one request.</summary>
    public const int MaxTags = 100;

    /// <summary>At most this many metrics, params and tags together in one request.</summary>
    public const int MaxEntities = 1000;

    /// <summary>
    /// Splits metrics, params and tags into batches within the limits, in order; params and tags go in the first
    /// batches so a run shows its configuration before its curves.
    /// </summary>
    public static IEnumerable<(IReadOnlyList<MlflowMetric> Metrics, IReadOnlyList<KeyValuePair<string, string>> Params, IReadOnlyList<KeyValuePair<string, string>> Tags)> Split(
        IReadOnlyList<MlflowMetric> metrics, IReadOnlyList<KeyValuePair<string, string>> parameters, IReadOnlyList<KeyValuePair<string, string>> tags)
    {
        int m = 0, p = 0, t = 0;
        do
        {
            int takeParams = Math.Min(MaxParams, parameters.Count - p);
            int takeTags = Math.Min(MaxTags, tags.Count - t);
            int takeMetrics = Math.Min(Math.Min(MaxMetrics, MaxEntities - takeParams - takeTags), metrics.Count - m);
            yield return (Slice(metrics, m, takeMetrics), Slice(parameters, p, takeParams), Slice(tags, t, takeTags));
            m += takeMetrics;
            p += takeParams;
            t += takeTags;
        }
        while (m < metrics.Count || p < parameters.Count || t < tags.Count);
    }

    static IReadOnlyList<T> Slice<T>(IReadOnlyList<T> list, int start, int count)
    {
        var slice = new T[count];
        for (int i = 0; i < count; i++) slice[i] = list[start + i];
        return slice;
    }
}
