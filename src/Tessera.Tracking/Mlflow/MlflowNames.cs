using System.Globalization;
using Tessera.Tracking.Runs;

namespace Tessera.Tracking.Mlflow;

// What a Tessera run becomes in MLflow: keys MLflow accepts, statuses, the standard mlflow.* tags, and the small files
// (model card, configs) sent along as artifacts. Shared by the REST publisher and the mlruns/ exporter.
static class MlflowNames
{
    /// <summary>Longest tag value every MLflow backend stores (service.proto: 5000 bytes guaranteed).</summary>
    public const int MaxTagValue = 5000;

    /// <summary>Longest param value MLflow accepts (6000 bytes since 2.x; 500 before).</summary>
    public const int MaxParamValue = 6000;

    /// <summary>Files larger than this are not copied as artifacts (weights stay where they are; their hashes are tags).</summary>
    public const long MaxArtifactFileBytes = 1 << 20;

    /// <summary>
    /// <paramref name="key"/> with every character MLflow rejects in metric/param/tag names (anything but letters,
    /// digits, _ - . space and /) replaced by '_', and no leading '/' or '..' segment (they would escape its folders).
    /// </summary>
    public static string Key(string key)
    {
        var chars = key.Select(c => char.IsAsciiLetterOrDigit(c) || c is '_' or '-' or '.' or ' ' or '/' ? c : '_').ToArray();
        string safe = new string(chars).TrimStart('/');
        safe = string.Join('/', safe.Split('/').Select(part => part is ".." or "." ? "_" : part));
        return safe.Length == 0 ? "_" : safe;
    }

    public static string Status(RunStatus status) => status switch
    {
        RunStatus.Running => "RUNNING",
        RunStatus.Finished => "FINISHED",
        RunStatus.Failed => "FAILED",
        _ => "KILLED",
    };

    /// <summary>MLflow's RunStatus enum number (service.proto), as the file store's meta.yaml holds it.</summary>
    public static int StatusNumber(RunStatus status) => status switch
    {
        RunStatus.Running => 1,
        RunStatus.Finished => 3,
        RunStatus.Failed => 4,
        _ => 5,
    };

    public static string Truncate(string value, int max) => value.Length <= max ? value : value[..(max - 3)] + "...";

    /// <summary>Params with MLflow-safe keys and values within its limit.</summary>
    public static List<KeyValuePair<string, string>> Params(RunStore store, string runId) =>
        store.GetParams(runId).Select(p => KeyValuePair.Create(Key(p.Key), Truncate(p.Value, MaxParamValue))).DistinctBy(p => p.Key).ToList();

    /// <summary>The run's own tags plus MLflow's standard ones (user, source, git commit) and Tessera's run id and command line.</summary>
    public static List<KeyValuePair<string, string>> Tags(RunStore store, RunInfo run)
    {
        var tags = new SortedDictionary<string, string>(StringComparer.Ordinal)
        {
            ["mlflow.user"] = Environment.UserName,
            ["mlflow.source.type"] = "LOCAL",
            ["mlflow.source.name"] = run.Arguments.Count > 0 ? "tessera " + run.Arguments[0] : "tessera",
            ["tessera.run_id"] = run.Id,
            ["tessera.host"] = run.Host,
        };
        if (run.CommandLine.Length > 0) tags["tessera.command_line"] = run.CommandLine;
        if (run.ParentId is not null) tags["tessera.parent_run_id"] = run.ParentId;
        var environment = store.GetEnvironment(run.Id)?.Values;
        if (environment?.GetValueOrDefault("git.commit") is { } commit) tags["mlflow.source.git.commit"] = commit;
        if (environment?.GetValueOrDefault("git.branch") is { } branch) tags["mlflow.source.git.branch"] = branch;
        foreach (var (key, value) in store.GetTags(run.Id)) tags[Key(key)] = value;
        foreach (var dataset in store.GetDatasets(run.Id))
            tags[Key($"tessera.dataset.{dataset.Name}")] = $"{dataset.Source} sha256:{dataset.Sha256} files:{dataset.FileCount.ToString(CultureInfo.InvariantCulture)}";
        foreach (var artifact in store.GetArtifacts(run.Id).Where(a => a.Kind is ArtifactKind.Weights or ArtifactKind.Onnx))
            tags[Key($"tessera.sha256.{Path.GetFileName(artifact.Path)}")] = artifact.Sha256;
        return tags.Select(t => KeyValuePair.Create(t.Key, Truncate(t.Value, MaxTagValue))).ToList();
    }

    public static List<MlflowMetric> Metrics(RunStore store, string runId) =>
        store.GetMetricHistory(runId).Select(p => new MlflowMetric(Key(p.Key), p.Value, p.Timestamp.ToUnixTimeMilliseconds(), p.Step)).ToList();

    /// <summary>
    /// The small files of the model and adapter folders the run wrote (model card README.md, config.json, ...):
    /// artifact path "&lt;folder name&gt;/&lt;file&gt;" and the file. Weights and files over 1 MiB are left out.
    /// </summary>
    public static IEnumerable<(string ArtifactPath, string File)> SmallArtifactFiles(RunStore store, string runId)
    {
        foreach (var artifact in store.GetArtifacts(runId).Where(a => a.Kind is ArtifactKind.ModelFolder or ArtifactKind.Adapter))
        {
            if (!Directory.Exists(artifact.Path)) continue;
            string folder = Path.GetFileName(artifact.Path.TrimEnd(Path.DirectorySeparatorChar));
            foreach (string file in Directory.EnumerateFiles(artifact.Path).Order(StringComparer.Ordinal))
            {
                if (file.EndsWith(".safetensors", StringComparison.Ordinal) || new FileInfo(file).Length > MaxArtifactFileBytes) continue;
                yield return ($"{folder}/{Path.GetFileName(file)}", file);
            }
        }
    }
}
