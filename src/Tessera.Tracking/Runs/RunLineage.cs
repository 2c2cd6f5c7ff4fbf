namespace Tessera.Tracking.Runs;

/// <summary>One run in a lineage chain: the run, what it read (datasets, input models) and what it wrote.</summary>
/// <param name="Run">The run.</param>
/// <param name="Datasets">Fingerprints of the data the run read.</param>
/// <param name="Inputs">Models or adapters the run read (the <c>model</c>/<c>adapter</c> parameters), with the run
/// that produced each one, or null when no recorded run did (a Hub model, a folder made outside Tessera).</param>
/// <param name="Artifacts">What the run wrote.</param>
/// <param name="Depth">0 for the run asked about, 1 for the runs that produced its inputs, and so on.</param>
public sealed record LineageStep(RunInfo Run, IReadOnlyList<DatasetInfo> Datasets, IReadOnlyList<(string Path, string? ProducedBy)> Inputs,
    IReadOnlyList<ArtifactInfo> Artifacts, int Depth);

/// <summary>
/// Walks the runs store back from an artifact or a run to the data and base models: which run produced the artifact,
/// which datasets and input models that run read, which runs produced those inputs, and so on.
/// </summary>
public static class RunLineage
{
    /// <summary>Run parameters that name an input model or adapter (a path).</summary>
    public static IReadOnlyList<string> InputParameters { get; } = ["model", "adapter", "base", "base-model"];

    /// <summary>
    /// The run that produced <paramref name="artifactPathOrRunId"/> (an artifact path, found by path and then by content
    /// hash, or a run id or unique prefix) and the chain of runs behind it, depth first, each run once.
    /// </summary>
    /// <exception cref="TrackingException">Neither a recorded artifact nor a run id; the message says what was tried.</exception>
    public static IReadOnlyList<LineageStep> Trace(RunStore store, string artifactPathOrRunId)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentException.ThrowIfNullOrEmpty(artifactPathOrRunId);
        string? start = ProducerOf(store, artifactPathOrRunId);
        if (start is null)
        {
            if (File.Exists(artifactPathOrRunId) || Directory.Exists(artifactPathOrRunId))
                throw new TrackingException($"{Path.GetFullPath(artifactPathOrRunId)}: no run in {store.Path} recorded this artifact (by path or content hash)");
            start = store.GetRun(artifactPathOrRunId).Id;
        }
        var steps = new List<LineageStep>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        Walk(store, start, 0, steps, seen);
        return steps;
    }

    static void Walk(RunStore store, string runId, int depth, List<LineageStep> steps, HashSet<string> seen)
    {
        if (!seen.Add(runId)) return;
        var run = store.GetRun(runId);
        var parameters = store.GetParams(runId);
        var inputs = new List<(string Path, string? ProducedBy)>();
        foreach (string key in InputParameters)
            if (parameters.TryGetValue(key, out var value) && value.Length > 0)
            {
                // A relative path was relative to the run's working directory, recorded as a tag.
                string path = Path.IsPathRooted(value) || !store.GetTags(runId).TryGetValue("tessera.cwd", out var cwd) ? value : Path.Combine(cwd, value);
                string? producer = ProducerOf(store, path, before: run.StartTime);
                inputs.Add((File.Exists(path) || Directory.Exists(path) ? Path.GetFullPath(path) : value, producer));
            }
        steps.Add(new LineageStep(run, store.GetDatasets(runId), inputs, store.GetArtifacts(runId), depth));
        foreach (var (_, producer) in inputs)
            if (producer is not null) Walk(store, producer, depth + 1, steps, seen);
    }

    // The newest run that recorded this path as an artifact (the folder itself or a file or folder inside it), else
    // the newest with the same content hash; only runs started before `before` when given.
    static string? ProducerOf(RunStore store, string path, DateTimeOffset? before = null)
    {
        if (!File.Exists(path) && !Directory.Exists(path)) return null;
        string full = Path.GetFullPath(path).TrimEnd(Path.DirectorySeparatorChar);
        bool Eligible(string runId) => before is null || store.GetRun(runId).StartTime <= before;
        var byPath = store.FindArtifacts(full, null).Where(a => Eligible(a.RunId)).ToList();
        if (byPath.Count > 0) return byPath[^1].RunId;
        string sha = ContentFingerprint.Compute(full).Sha256;
        var byHash = store.FindArtifacts(null, sha).Where(a => Eligible(a.RunId)).ToList();
        return byHash.Count > 0 ? byHash[^1].RunId : null;
    }
}
