using System.Globalization;
using System.Text.Json;
using Tessera.Tests.Mlflow;
using Tessera.Tracking.Mlflow;
using Tessera.Tracking.Runs;

namespace Tessera.Tracking.Tests.Mlflow;

public sealed class MlflowExportTests : IDisposable
{
    readonly TempDirectory temp = new("tessera-mlflow-");

    public void Dispose() => temp.Dispose();

    // A finished run with params, metrics (one with a '/' key, one NaN), tags and a model folder with a card, and a failed one.
    (string Finished, string Failed) Record(RunStore store)
    {
        string model = temp.File("out/model");
        Directory.CreateDirectory(model);
        File.WriteAllText(Path.Combine(model, "README.md"), "---\nlibrary_name: tessera\n---\n# mlp\n");
        File.WriteAllText(Path.Combine(model, "config.json"), "{\"model_type\":\"mlp\"}");
        File.WriteAllBytes(Path.Combine(model, "model.safetensors"), new byte[64]);
        using var run = store.StartRun(new RunStartOptions { Experiment = "train", Name = "train-mlp", CommandLine = "tessera train fashion-mnist --lr 0.001", Arguments = ["train", "fashion-mnist", "--lr", "0.001"] });
        run.LogParams(new Dictionary<string, string> { ["lr"] = "0.001", ["epochs"] = "2", ["weird key!"] = "x" });
        run.LogMetric("train/loss", 0.5, 1);
        run.LogMetric("train/loss", 0.25, 2);
        run.LogMetric("val_acc", 1, 2);
        run.LogMetric("grad_norm", double.NaN, 2);
        run.SetTag("tessera.command", "train");
        run.LogArtifact(model, ArtifactKind.ModelFolder);
        run.End(RunStatus.Finished);
        using var failed = store.StartRun(new RunStartOptions { Experiment = "eval", Name = "eval \"quoted\"\nname" });
        failed.End(RunStatus.Failed);
        return (run.Id, failed.Id);
    }

    [Fact]
    public void Python_floats_are_written_as_python_writes_them()
    {
        Requires.Python();
        double[] values = [1, 0.1, 1e-5, 1e20, 1.5e300, -2.5, 123456789.125, 5e-324, double.NaN, double.PositiveInfinity, double.NegativeInfinity, 0];
        string expected = ReferencePython.Run("import sys\nfor v in sys.argv[1:]: print(str(float(v)))", [.. values.Select(v => v.ToString("R", CultureInfo.InvariantCulture))]);
        Assert.Equal(expected.Split('\n', StringSplitOptions.RemoveEmptyEntries), values.Select(MlflowFileStoreExporter.PythonFloat));
    }

    [Fact]
    public void The_layout_has_mlflows_exact_line_formats()
    {
        using var store = RunStore.Open(temp.File("runs.db"));
        var (id, failedId) = Record(store);
        string root = temp.File("mlruns");
        var exported = MlflowFileStoreExporter.Export(store, root);
        Assert.Equal(2, exported.Count);
        var run = store.GetRun(id);
        string experiment = run.ExperimentId.ToString(CultureInfo.InvariantCulture);
        string dir = Path.Combine(root, experiment, id);
        var points = store.GetMetricHistory(id, "train/loss");
        Assert.Equal(string.Join("", points.Select(p => $"{p.Timestamp.ToUnixTimeMilliseconds()} {(p.Step == 1 ? "0.5" : "0.25")} {p.Step}\n")), File.ReadAllText(Path.Combine(dir, "metrics", "train", "loss")));
        Assert.EndsWith(" 1.0 2\n", File.ReadAllText(Path.Combine(dir, "metrics", "val_acc")));
        Assert.EndsWith(" nan 2\n", File.ReadAllText(Path.Combine(dir, "metrics", "grad_norm")));
        Assert.Equal("0.001", File.ReadAllText(Path.Combine(dir, "params", "lr")));
        Assert.Equal("x", File.ReadAllText(Path.Combine(dir, "params", "weird key_")));
        Assert.Equal("train-mlp", File.ReadAllText(Path.Combine(dir, "tags", "mlflow.runName")));
        Assert.Equal("LOCAL", File.ReadAllText(Path.Combine(dir, "tags", "mlflow.source.type")));
        Assert.Equal("tessera train fashion-mnist --lr 0.001", File.ReadAllText(Path.Combine(dir, "tags", "tessera.command_line")));
        Assert.StartsWith("---\nlibrary_name: tessera", File.ReadAllText(Path.Combine(dir, "artifacts", "model", "README.md")));
        Assert.False(File.Exists(Path.Combine(dir, "artifacts", "model", "model.safetensors")));
        string[] meta = File.ReadAllLines(Path.Combine(dir, "meta.yaml"));
        Assert.Equal(["artifact_uri", "deleted_time", "end_time", "entry_point_name", "experiment_id", "lifecycle_stage", "run_id", "run_name", "run_uuid",
            "source_name", "source_type", "source_version", "start_time", "status", "tags", "user_id"], meta.Select(l => l[..l.IndexOf(':')]));
        Assert.Contains("status: 3", meta);
        Assert.Contains($"start_time: {run.StartTime.ToUnixTimeMilliseconds()}", meta);
        Assert.Contains("tags: []", meta);
        Assert.Contains("status: 4", File.ReadAllLines(Path.Combine(root, store.GetRun(failedId).ExperimentId.ToString(CultureInfo.InvariantCulture), failedId, "meta.yaml")));
        Assert.Equal(["artifact_location", "creation_time", "experiment_id", "last_update_time", "lifecycle_stage", "name"],
            File.ReadAllLines(Path.Combine(root, experiment, "meta.yaml")).Select(l => l[..l.IndexOf(':')]));
    }

    [Fact]
    public void An_independent_yaml_reader_reads_the_layout_as_mlflows_file_store_does()
    {
        Requires.Python("yaml");
        using var store = RunStore.Open(temp.File("runs.db"));
        var (id, failedId) = Record(store);
        string root = temp.File("mlruns");
        MlflowFileStoreExporter.Export(store, root);
        MlflowFileStoreExporter.Export(store, root, [id[..8]]); // a second export of one run replaces it, into the same experiment

        // Reads like mlflow/store/tracking/file_store.py: experiment folders with meta.yaml, run folders with meta.yaml,
        // metric files of "timestamp value step" lines (keys with '/' are nested files), params and tags as whole files.
        const string reader = """
            import json, os, sys, yaml
            root = sys.argv[1]
            out = {"experiments": {}, "runs": {}}
            for exp in sorted(os.listdir(root)):
                d = os.path.join(root, exp)
                if exp.startswith(".") or not os.path.isdir(d): continue
                meta = yaml.safe_load(open(os.path.join(d, "meta.yaml")))
                assert str(meta["experiment_id"]) == exp, (meta, exp)
                out["experiments"][exp] = meta
                for run in sorted(os.listdir(d)):
                    rd = os.path.join(d, run)
                    if not os.path.isdir(rd) or run in ("tags", "datasets", "traces"): continue
                    info = yaml.safe_load(open(os.path.join(rd, "meta.yaml")))
                    def files(kind):
                        base = os.path.join(rd, kind)
                        for dirpath, _, names in os.walk(base):
                            for n in names:
                                p = os.path.join(dirpath, n)
                                yield os.path.relpath(p, base).replace(os.sep, "/"), p
                    metrics = {}
                    for key, p in files("metrics"):
                        rows = []
                        for line in open(p).read().splitlines():
                            ts, value, step = line.strip().split(" ")
                            rows.append([int(ts), repr(float(value)), int(step)])
                        metrics[key] = rows
                    out["runs"][run] = {"experiment": exp, "meta": info, "metrics": metrics,
                        "params": {k: open(p).read() for k, p in files("params")},
                        "tags": {k: open(p).read() for k, p in files("tags")},
                        "artifacts": sorted(k for k, _ in files("artifacts"))}
            print(json.dumps(out))
            """;
        using var json = JsonDocument.Parse(ReferencePython.Run(reader, root));
        var experiments = json.RootElement.GetProperty("experiments");
        var run = store.GetRun(id);
        string experiment = run.ExperimentId.ToString(CultureInfo.InvariantCulture);
        Assert.Equal("Default", experiments.GetProperty("0").GetProperty("name").GetString());
        var exp = experiments.GetProperty(experiment);
        Assert.Equal("train", exp.GetProperty("name").GetString());
        Assert.Equal("active", exp.GetProperty("lifecycle_stage").GetString());
        Assert.Equal(new Uri(Path.Combine(root, experiment)).AbsoluteUri, exp.GetProperty("artifact_location").GetString());
        Assert.Equal(store.ListExperiments().Single(e => e.Id == run.ExperimentId).CreationTime.ToUnixTimeMilliseconds(), exp.GetProperty("creation_time").GetInt64());

        var runs = json.RootElement.GetProperty("runs");
        var r = runs.GetProperty(id);
        var meta = r.GetProperty("meta");
        Assert.Equal(id, meta.GetProperty("run_id").GetString());
        Assert.Equal(id, meta.GetProperty("run_uuid").GetString());
        Assert.Equal(experiment, meta.GetProperty("experiment_id").GetString());
        Assert.Equal("train-mlp", meta.GetProperty("run_name").GetString());
        Assert.Equal(3, meta.GetProperty("status").GetInt32()); // RunStatus.FINISHED
        Assert.Equal(4, meta.GetProperty("source_type").GetInt32()); // SourceType.LOCAL
        Assert.Equal(run.StartTime.ToUnixTimeMilliseconds(), meta.GetProperty("start_time").GetInt64());
        Assert.Equal(run.EndTime!.Value.ToUnixTimeMilliseconds(), meta.GetProperty("end_time").GetInt64());
        Assert.Equal(JsonValueKind.Null, meta.GetProperty("deleted_time").ValueKind);
        Assert.Equal("active", meta.GetProperty("lifecycle_stage").GetString());
        Assert.Equal(0, meta.GetProperty("tags").GetArrayLength());
        Assert.Equal(new Uri(Path.Combine(root, experiment, id, "artifacts")).AbsoluteUri, meta.GetProperty("artifact_uri").GetString());

        var loss = r.GetProperty("metrics").GetProperty("train/loss");
        Assert.Equal([("0.5", 1L), ("0.25", 2L)], loss.EnumerateArray().Select(p => (p[1].GetString()!, p[2].GetInt64())));
        Assert.Equal("nan", r.GetProperty("metrics").GetProperty("grad_norm")[0][1].GetString());
        Assert.Equal("2", r.GetProperty("params").GetProperty("epochs").GetString());
        Assert.Equal("train", r.GetProperty("tags").GetProperty("tessera.command").GetString());
        Assert.Equal(id, r.GetProperty("tags").GetProperty("tessera.run_id").GetString());
        Assert.Equal(["model/README.md", "model/config.json"], r.GetProperty("artifacts").EnumerateArray().Select(a => a.GetString()));

        var failed = runs.GetProperty(failedId).GetProperty("meta");
        Assert.Equal(4, failed.GetProperty("status").GetInt32()); // FAILED
        Assert.Equal("eval \"quoted\"\nname", failed.GetProperty("run_name").GetString());
        Assert.Equal(2, runs.EnumerateObject().Count());
    }
}
