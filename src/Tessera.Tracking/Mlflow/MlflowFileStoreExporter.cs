using System.Globalization;
using System.Text;
using Tessera.Tracking.Runs;

namespace Tessera.Tracking.Mlflow;

/// <summary>
/// Writes runs of the runs store in MLflow's file-store layout (the <c>mlruns/</c> folder that <c>mlflow ui
/// --backend-store-uri DIR</c> and <c>mlflow.set_tracking_uri("file:DIR")</c> read), for moving runs to MLflow on a
/// machine with no network: <c>&lt;experiment&gt;/meta.yaml</c>, <c>&lt;experiment&gt;/&lt;run&gt;/meta.yaml</c>,
/// <c>metrics/&lt;key&gt;</c> (one "timestamp value step" line per point), <c>params/&lt;key&gt;</c>,
/// <c>tags/&lt;key&gt;</c> and <c>artifacts/</c> (model cards and configs). Run ids stay the same (Tessera's ids
/// already have MLflow's form); experiments keep the store's id unless the folder already holds another experiment
/// under it. Exporting a run again replaces its folder.
/// </summary>
public static class MlflowFileStoreExporter
{
    /// <summary>Exports <paramref name="runIds"/> (ids or unique prefixes; every run when null or empty) into <paramref name="directory"/>.</summary>
    /// <returns>Each exported run's id and folder.</returns>
    /// <exception cref="TrackingException">An id matches no run, or <paramref name="directory"/> holds an experiment folder that is not MLflow's.</exception>
    public static IReadOnlyList<(string RunId, string Folder)> Export(RunStore store, string directory, IEnumerable<string>? runIds = null)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentException.ThrowIfNullOrEmpty(directory);
        string root = Path.GetFullPath(directory);
        var ids = runIds?.ToList() ?? [];
        var runs = ids.Count == 0 ? store.ListRuns().Reverse().ToList() : ids.Select(store.GetRun).DistinctBy(r => r.Id).ToList();
        Directory.CreateDirectory(root);
        Directory.CreateDirectory(Path.Combine(root, ".trash"));
        var experiments = store.ListExperiments().ToDictionary(e => e.Id);
        if (!Directory.Exists(Path.Combine(root, "0"))) // MLflow's default experiment, which its file store expects to find
            WriteExperiment(root, "0", "Default", DateTimeOffset.UtcNow);
        var folders = new Dictionary<long, string>();
        var exported = new List<(string, string)>();
        foreach (var run in runs)
        {
            if (!folders.TryGetValue(run.ExperimentId, out string? experimentId))
            {
                var experiment = experiments.GetValueOrDefault(run.ExperimentId) ?? new ExperimentInfo(run.ExperimentId, $"experiment-{run.ExperimentId}", run.StartTime);
                experimentId = ExperimentFolder(root, experiment);
                folders[run.ExperimentId] = experimentId;
            }
            exported.Add((run.Id, WriteRun(store, root, experimentId, run)));
        }
        return exported;
    }

    // The store's id when free or already this experiment's (a second export merges into it); else the next free number.
    static string ExperimentFolder(string root, ExperimentInfo experiment)
    {
        string id = experiment.Id.ToString(CultureInfo.InvariantCulture);
        string? existing = ExistingName(root, id);
        if (existing == experiment.Name) return id;
        if (existing is null && !Directory.Exists(Path.Combine(root, id)))
        {
            WriteExperiment(root, id, experiment.Name, experiment.CreationTime);
            return id;
        }
        foreach (string dir in Directory.EnumerateDirectories(root))
            if (long.TryParse(Path.GetFileName(dir), NumberStyles.None, CultureInfo.InvariantCulture, out _) && ExistingName(root, Path.GetFileName(dir)) == experiment.Name)
                return Path.GetFileName(dir);
        long next = Directory.EnumerateDirectories(root).Select(d => long.TryParse(Path.GetFileName(d), NumberStyles.None, CultureInfo.InvariantCulture, out long n) ? n : 0).DefaultIfEmpty(0).Max() + 1;
        id = next.ToString(CultureInfo.InvariantCulture);
        WriteExperiment(root, id, experiment.Name, experiment.CreationTime);
        return id;
    }

    static string? ExistingName(string root, string id)
    {
        string meta = Path.Combine(root, id, "meta.yaml");
        if (!File.Exists(meta)) return null;
        foreach (string line in File.ReadLines(meta))
            if (line.StartsWith("name: ", StringComparison.Ordinal)) return YamlText.ParseScalar(line["name: ".Length..]);
        throw new TrackingException($"{meta}: an MLflow experiment meta.yaml has a 'name:' line; this one has none");
    }

    static void WriteExperiment(string root, string id, string name, DateTimeOffset created)
    {
        string dir = Path.Combine(root, id);
        Directory.CreateDirectory(dir);
        long ms = created.ToUnixTimeMilliseconds();
        // Keys sorted, as MLflow's write_yaml (sort_keys=True) leaves them.
        Formats.AtomicFile.WriteAllText(Path.Combine(dir, "meta.yaml"), YamlText.Mapping(
        [
            ("artifact_location", YamlText.Quote(FileUri(dir))),
            ("creation_time", ms.ToString(CultureInfo.InvariantCulture)),
            ("experiment_id", YamlText.Quote(id)),
            ("last_update_time", ms.ToString(CultureInfo.InvariantCulture)),
            ("lifecycle_stage", "active"),
            ("name", YamlText.Quote(name)),
        ]));
    }

    static string WriteRun(RunStore store, string root, string experimentId, RunInfo run)
    {
        string dir = Path.Combine(root, experimentId, run.Id);
        if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true);
        Directory.CreateDirectory(dir);
        string artifacts = Path.Combine(dir, "artifacts");
        Directory.CreateDirectory(artifacts);
        Directory.CreateDirectory(Path.Combine(dir, "metrics"));
        Directory.CreateDirectory(Path.Combine(dir, "params"));
        Directory.CreateDirectory(Path.Combine(dir, "tags"));
        string Ms(DateTimeOffset? time) => time is { } t ? t.ToUnixTimeMilliseconds().ToString(CultureInfo.InvariantCulture) : "null";
        File.WriteAllText(Path.Combine(dir, "meta.yaml"), YamlText.Mapping(
        [
            ("artifact_uri", YamlText.Quote(FileUri(artifacts))),
            ("deleted_time", "null"),
            ("end_time", Ms(run.EndTime)),
            ("entry_point_name", "''"),
            ("experiment_id", YamlText.Quote(experimentId)),
            ("lifecycle_stage", "active"),
            ("run_id", YamlText.Quote(run.Id)),
            ("run_name", YamlText.Quote(run.Name)),
            ("run_uuid", YamlText.Quote(run.Id)),
            ("source_name", "''"),
            ("source_type", "4"), // SourceType.LOCAL
            ("source_version", "''"),
            ("start_time", Ms(run.StartTime)),
            ("status", MlflowNames.StatusNumber(run.Status).ToString(CultureInfo.InvariantCulture)),
            ("tags", "[]"),
            ("user_id", YamlText.Quote(Environment.UserName)),
        ]));
        foreach (var group in MlflowNames.Metrics(store, run.Id).GroupBy(m => m.Key))
        {
            var text = new StringBuilder();
            foreach (var m in group) text.Append(CultureInfo.InvariantCulture, $"{m.Timestamp} {PythonFloat(m.Value)} {m.Step}\n");
            WriteValue(dir, "metrics", group.Key, text.ToString());
        }
        foreach (var (key, value) in MlflowNames.Params(store, run.Id)) WriteValue(dir, "params", key, value);
        var tags = MlflowNames.Tags(store, run);
        tags.Add(KeyValuePair.Create("mlflow.runName", run.Name));
        foreach (var (key, value) in tags) WriteValue(dir, "tags", key, value);
        foreach (var (artifactPath, file) in MlflowNames.SmallArtifactFiles(store, run.Id))
        {
            string target = Path.Combine(artifacts, artifactPath.Replace('/', Path.DirectorySeparatorChar));
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            File.Copy(file, target, overwrite: true);
        }
        return dir;
    }

    // A key with '/' is a nested path, as MLflow stores "train/loss"; values have no trailing newline (as MLflow writes them).
    static void WriteValue(string runDir, string kind, string key, string value)
    {
        string path = Path.Combine(runDir, kind, key.Replace('/', Path.DirectorySeparatorChar));
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, value);
    }

    static string FileUri(string path) => new Uri(path).AbsoluteUri;

    /// <summary><paramref name="value"/> as Python's str(float) writes it (MLflow writes metric lines with it): 1.0, 1e-05, nan, inf.</summary>
    internal static string PythonFloat(double value)
    {
        if (double.IsNaN(value)) return "nan";
        if (double.IsPositiveInfinity(value)) return "inf";
        if (double.IsNegativeInfinity(value)) return "-inf";
        string text = value.ToString("R", CultureInfo.InvariantCulture).Replace("E", "e", StringComparison.Ordinal);
        return text.Contains('.') || text.Contains('e') ? text : text + ".0";
    }
}
