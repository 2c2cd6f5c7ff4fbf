namespace Tessera.Tracking.Runs;

/// <summary>Two runs side by side: every parameter, final metric, output hash and environment value that differs.</summary>
/// <param name="Left">The first run.</param>
/// <param name="Right">The second run.</param>
/// <param name="Params">Every parameter key of either run with both values.</param>
/// <param name="Metrics">Every final metric of either run with both values.</param>
/// <param name="Artifacts">Artifacts matched by their path relative to each run's output folder, with their kind and both hashes.</param>
/// <param name="Environment">Environment values that differ (empty when either run has none recorded).</param>
public sealed record RunComparison(
    RunInfo Left,
    RunInfo Right,
    IReadOnlyList<(string Key, string? Left, string? Right)> Params,
    IReadOnlyList<(string Key, double? Left, double? Right)> Metrics,
    IReadOnlyList<(string Path, ArtifactKind Kind, string? Left, string? Right)> Artifacts,
    IReadOnlyList<(string Key, string? Left, string? Right)> Environment)
{
    /// <summary>The tag that holds a run's output folder (artifacts are matched relative to it).</summary>
    public const string OutputTag = "tessera.out";

    /// <summary>
    /// Whether every final metric is equal and every weights file and ONNX model has the same hash. (Folders also
    /// hold model cards and checkpoints with timings in them, which differ between any two runs.)
    /// </summary>
    public bool SameResults => Metrics.All(m => m.Left == m.Right)
        && Artifacts.Where(a => a.Kind is ArtifactKind.Weights or ArtifactKind.Onnx).All(a => a.Left == a.Right);

    /// <summary>Compares runs <paramref name="left"/> and <paramref name="right"/> (ids or unique prefixes) in <paramref name="store"/>.</summary>
    /// <exception cref="TrackingException">A run does not exist.</exception>
    public static RunComparison Compare(RunStore store, string left, string right)
    {
        var a = store.GetRun(left);
        var b = store.GetRun(right);
        var pa = store.GetParams(a.Id);
        var pb = store.GetParams(b.Id);
        var ma = store.GetLatestMetrics(a.Id);
        var mb = store.GetLatestMetrics(b.Id);
        var aa = RelativeArtifacts(store, a.Id);
        var ab = RelativeArtifacts(store, b.Id);
        var ea = store.GetEnvironment(a.Id);
        var eb = store.GetEnvironment(b.Id);
        return new RunComparison(
            a, b,
            [.. pa.Keys.Union(pb.Keys).Order(StringComparer.Ordinal).Select(k => (k, pa.GetValueOrDefault(k), pb.GetValueOrDefault(k)))],
            [.. ma.Keys.Union(mb.Keys).Order(StringComparer.Ordinal).Select(k => (k, ma.TryGetValue(k, out double x) ? x : (double?)null, mb.TryGetValue(k, out double y) ? y : (double?)null))],
            [.. aa.Keys.Union(ab.Keys).Order(StringComparer.Ordinal).Select(k => (k, (aa.TryGetValue(k, out var x) ? x : ab[k]).Kind, aa.GetValueOrDefault(k).Sha256, ab.GetValueOrDefault(k).Sha256))],
            ea is null || eb is null ? [] : ea.Diff(eb));
    }

    static Dictionary<string, (ArtifactKind Kind, string? Sha256)> RelativeArtifacts(RunStore store, string runId)
    {
        string? root = store.GetTags(runId).GetValueOrDefault(OutputTag);
        var map = new Dictionary<string, (ArtifactKind, string?)>(StringComparer.Ordinal);
        foreach (var artifact in store.GetArtifacts(runId))
        {
            if (artifact.Kind == ArtifactKind.Dataset) continue;
            string key = root is not null && (artifact.Path == root || artifact.Path.StartsWith(root + System.IO.Path.DirectorySeparatorChar, StringComparison.Ordinal))
                ? System.IO.Path.GetRelativePath(root, artifact.Path).Replace('\\', '/')
                : System.IO.Path.GetFileName(artifact.Path);
            map[key] = (artifact.Kind, artifact.Sha256);
        }
        return map;
    }
}
