using System.CommandLine;
using System.CommandLine.Parsing;
using System.Globalization;
using Tessera.Tracking;
using Tessera.Tracking.Capture;
using Tessera.Tracking.Csv;
using Tessera.Tracking.Runs;
using Tessera.Training;

namespace Tessera.Cli;

/// <summary>
/// Records every command that trains, fine-tunes, merges, exports, quantizes, evaluates or benchmarks as a run in the
/// runs store, with no flag needed: its options as parameters, the environment, fingerprints of the data it reads,
/// the metrics its trainers log (as they are logged, see <see cref="CliLiveMetrics"/>; metrics.csv adds what they lack), and hashes of what it writes. <c>--no-track</c> or TESSERA_TRACKING=off turns
/// it off; <c>--tracking-uri</c> or TESSERA_TRACKING_URI picks the store. Tracking never fails a command: a store
/// that cannot be opened is one warning line.
/// </summary>
static class CliTracking
{
    internal const string NoTrackOption = "--no-track";
    internal const string TrackingUriOption = "--tracking-uri";
    internal const string SwitchVariable = "TESSERA_TRACKING";

    /// <summary>Commands recorded as runs, by path below the root.</summary>
    internal static readonly IReadOnlySet<string> TrackedCommands = new HashSet<string>(StringComparer.Ordinal)
    {
        "train", "train lm", "train diffusion", "finetune", "merge", "export", "convert", "quantize", "eval", "bench", "loadtest", "lr-find",
    };

    /// <summary>The run that <c>tessera runs reproduce</c> is re-running: the new run records it as its parent.</summary>
    internal static readonly AsyncLocal<string?> ReproducingRunId = new();

    // Options whose values are data the command reads (fingerprinted as datasets).
    static readonly string[] dataOptions = ["data", "data-dir", "val-data"];

    /// <summary>Adds the tracking options to <paramref name="root"/> (recursive: every command accepts them).</summary>
    internal static RootCommand AddOptions(RootCommand root)
    {
        root.Options.Add(new Option<bool>(NoTrackOption) { Description = "Do not record this command in the runs store (also TESSERA_TRACKING=off)", Recursive = true });
        root.Options.Add(new Option<string?>(TrackingUriOption)
        {
            Description = "Runs store: a .db file or a folder; an http(s) URI sends runs to that MLflow server too [default: TESSERA_TRACKING_URI, else tessera-runs/runs.db in the working directory; MLFLOW_TRACKING_URI=http(s)://... also sends to MLflow]",
            Recursive = true,
        });
        return root;
    }

    /// <summary>Starts a run for <paramref name="parsed"/> if its command is tracked and tracking is on; else null.</summary>
    internal static CliRun? Begin(ParseResult parsed, string[] args, TextWriter err)
    {
        string command = CommandPath(parsed.CommandResult);
        if (!TrackedCommands.Contains(command) || !HasOption(parsed, NoTrackOption)) return null;
        if (!ReferenceEquals(parsed.Action, parsed.CommandResult.Command.Action)) return null; // --help and the like run no command
        if (parsed.GetValue<bool>(NoTrackOption)) return null;
        if (Environment.GetEnvironmentVariable(SwitchVariable) is { } mode && mode.Trim().ToLowerInvariant() is "off" or "0" or "false" or "no") return null;
        var launch = DataParallelLaunch(parsed);
        if (launch is { Rank: > 0 }) return null; // under mpirun rank 0 records the run for every process
        var (uri, mlflowServer) = CliMlflow.SplitTrackingUri(parsed.GetValue<string?>(TrackingUriOption));
        RunStore? store = null;
        try
        {
            store = RunStore.Open(uri);
            var parameters = Parameters(parsed);
            var run = store.StartRun(new RunStartOptions
            {
                Experiment = command.Split(' ')[0],
                Name = RunName(command, parameters),
                CommandLine = "tessera " + string.Join(' ', args.Select(Quote)),
                Arguments = args,
                ParentId = ReproducingRunId.Value,
                Tags = new Dictionary<string, string>
                {
                    ["tessera.command"] = command,
                    ["tessera.cwd"] = Environment.CurrentDirectory,
                },
            });
            if (launch is not null) run.SetTag("tessera.world_size", launch.WorldSize.ToString(CultureInfo.InvariantCulture));
            var tracked = new CliRun(store, run, parameters, err);
            tracked.RecordStart();
            if (mlflowServer is not null) tracked.Mlflow = CliMlflow.Start(mlflowServer, store, run.Id, err);
            tracked.AttachLiveMetrics();
            return tracked;
        }
        catch (Exception e) when (e is TesseraException or IOException or UnauthorizedAccessException or ArgumentException or Microsoft.Data.Sqlite.SqliteException)
        {
            store?.Dispose();
            err.WriteLine($"warning: this {command} is not tracked: {e.Message}");
            return null;
        }
    }

    /// <summary>This process's place in a <c>--strategy ddp</c> launch (null for any other command or strategy, or unreadable launcher variables, which the command itself reports).</summary>
    static Distributed.LaunchEnvironment? DataParallelLaunch(ParseResult parsed)
    {
        if (parsed.CommandResult.Command.Options.FirstOrDefault(o => o.Name == "--strategy") is not Option<string> strategy || parsed.GetValue(strategy) != "ddp") return null;
        try { return Distributed.LaunchEnvironment.Read(); }
        catch (Distributed.DistributedException) { return null; }
    }

    static bool HasOption(ParseResult parsed, string name) => parsed.RootCommandResult.Command.Options.Any(o => o.Name == name);

    /// <summary>"train lm" for <c>tessera train lm ...</c>.</summary>
    internal static string CommandPath(CommandResult result)
    {
        var names = new List<string>();
        for (SymbolResult? r = result; r is CommandResult c && c.Parent is not null; r = r.Parent) names.Insert(0, c.Command.Name);
        return string.Join(' ', names);
    }

    /// <summary>Every argument and option of the command (given or defaulted) as text, by name without dashes.</summary>
    static SortedDictionary<string, string> Parameters(ParseResult parsed)
    {
        var values = new SortedDictionary<string, string>(StringComparer.Ordinal);
        var command = parsed.CommandResult.Command;
        foreach (var argument in command.Arguments)
            if (Text(ValueOf(parsed, argument.Name)) is { } text) values[argument.Name] = text;
        foreach (var option in command.Options)
        {
            if (option is System.CommandLine.Help.HelpOption or VersionOption || option.Name is NoTrackOption or TrackingUriOption) continue;
            if (Text(ValueOf(parsed, option.Name)) is { } text) values[option.Name.TrimStart('-')] = text;
        }
        return values;
    }

    // A value the parser cannot give (a required argument left out) is simply not recorded: the command reports it.
    static object? ValueOf(ParseResult parsed, string name)
    {
        try { return parsed.GetValue<object?>(name); }
        catch (InvalidOperationException) { return null; }
    }

    static string? Text(object? value) => value switch
    {
        null => null,
        bool b => b ? "true" : "false",
        double d => d.ToString("R", CultureInfo.InvariantCulture),
        float f => f.ToString("R", CultureInfo.InvariantCulture),
        IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
        string s => s,
        System.Collections.IEnumerable e => string.Join(',', e.Cast<object?>().Select(Text)),
        _ => value.ToString(),
    };

    static string RunName(string command, IReadOnlyDictionary<string, string> parameters)
    {
        string subject = parameters.GetValueOrDefault("model") ?? parameters.GetValueOrDefault("dataset") ?? "";
        if (subject.Contains('/') || subject.Contains(Path.DirectorySeparatorChar)) subject = Path.GetFileName(subject.TrimEnd('/', Path.DirectorySeparatorChar));
        return subject.Length > 0 ? $"{command.Replace(' ', '-')}-{subject}" : command.Replace(' ', '-');
    }

    internal static string Quote(string arg) =>
        arg.Length > 0 && arg.All(c => char.IsLetterOrDigit(c) || "-_./=:,+@%".Contains(c)) ? arg : "'" + arg.Replace("'", "'\\''") + "'";

    /// <summary>A tracked command's run, from start to end.</summary>
    internal sealed class CliRun(RunStore store, TrackedRun run, IReadOnlyDictionary<string, string> parameters, TextWriter err)
    {
        readonly DateTime started = DateTime.UtcNow;
        IDisposable? live;

        public string Id => run.Id;

        /// <summary>The MLflow server the run is also sent to, if any.</summary>
        public CliMlflow? Mlflow { get; set; }

        /// <summary>Parameters, environment and input data, recorded before the command runs.</summary>
        public void RecordStart()
        {
            run.LogParams(parameters);
            var seeds = parameters.Where(p => p.Key == "seed" || p.Key.EndsWith("-seed", StringComparison.Ordinal)).ToDictionary(p => p.Key, p => p.Value);
            run.LogEnvironment(RunEnvironment.Capture(seeds: seeds));
            foreach (var dataset in Datasets()) run.LogDataset(dataset);
        }

        /// <summary>From now until <see cref="End"/>, trainers created in this flow log into the run as they go (the last step of a start).</summary>
        public void AttachLiveMetrics() => live = AmbientLoggers.Attach(new CliLiveMetrics(run, mlflow: Mlflow?.Live));

        IEnumerable<DatasetInfo> Datasets()
        {
            bool explicitDir = false;
            foreach (string key in dataOptions)
                if (parameters.GetValueOrDefault(key) is { } value && (File.Exists(value) || Directory.Exists(value)))
                {
                    explicitDir |= key == "data-dir";
                    yield return DatasetInfo.FromPath(Path.GetFileName(Path.GetFullPath(value).TrimEnd(Path.DirectorySeparatorChar)), value);
                }
            bool fashionMnist = parameters.GetValueOrDefault("dataset") == "fashion-mnist" || parameters.GetValueOrDefault("data") == "fashion-mnist";
            if (fashionMnist && !explicitDir && Directory.Exists(Data.FashionMnist.DefaultRoot))
                yield return DatasetInfo.FromPath("fashion-mnist", Data.FashionMnist.DefaultRoot);
        }

        /// <summary>
        /// Hub datasets (<c>--data hub:org/name[@revision]</c>) as the command found them: the commit the revision
        /// resolved to (from the cache's refs/, which the download just wrote) and the snapshot's fingerprint.
        /// </summary>
        IEnumerable<DatasetInfo> HubDatasets()
        {
            foreach (string key in dataOptions)
            {
                if (parameters.GetValueOrDefault(key) is not { } value || !value.StartsWith(Hub.Datasets.HubDataset.HubPrefix, StringComparison.Ordinal)
                    || !Hub.RepoReference.TryParse(value[Hub.Datasets.HubDataset.HubPrefix.Length..], out var reference))
                    continue;
                var cache = new Hub.HubCache(Hub.HubOptions.FromEnvironment().CacheDir);
                if (cache.ResolveCommit(reference.RepoId, reference.Revision, Hub.RepoType.Dataset) is not { } commit
                    || !cache.TryGetSnapshotFolder(reference.RepoId, commit, out string? folder, Hub.RepoType.Dataset))
                    continue;
                var fingerprint = ContentFingerprint.Compute(folder);
                yield return new DatasetInfo(reference.RepoId, $"hf://datasets/{reference.RepoId}", commit, fingerprint.Sha256, fingerprint.Size, fingerprint.FileCount);
            }
        }

        /// <summary>Records what the command wrote and its outcome, then ends the run.</summary>
        public void End(int exitCode, Exception? error)
        {
            live?.Dispose();
            try
            {
                if (parameters.GetValueOrDefault("out") is { } output) run.SetTag("tessera.out", Path.GetFullPath(output));
                run.SetTag("tessera.exit_code", exitCode.ToString(CultureInfo.InvariantCulture));
                if (error is not null) run.SetTag("tessera.error", error.Message);
                foreach (var dataset in HubDatasets()) run.LogDataset(dataset);
                ImportMetrics();
                if (exitCode == 0 && error is null && store.GetTags(run.Id).GetValueOrDefault("tessera.command") is { } command)
                    CardProvenance.Stamp(command, run.Id, parameters, store.GetDatasets(run.Id), started);
                RecordArtifacts();
                run.End(exitCode == 0 && error is null ? RunStatus.Finished : RunStatus.Failed);
            }
            catch (Exception e) when (e is TesseraException or IOException or UnauthorizedAccessException or Microsoft.Data.Sqlite.SqliteException)
            {
                err.WriteLine($"warning: run {run.Id} may be incomplete in {store.Path}: {e.Message}");
                try { run.End(RunStatus.Failed); }
                catch (Exception inner) when (inner is IOException or Microsoft.Data.Sqlite.SqliteException) { } // the store itself is failing
            }
            finally
            {
                Mlflow?.Finish(store, run.Id);
                store.Dispose();
            }
        }

        void ImportMetrics()
        {
            if (parameters.GetValueOrDefault("out") is not { } output) return;
            string csv = Path.Combine(output, "metrics.csv");
            if (!File.Exists(csv) || File.GetLastWriteTimeUtc(csv) < started.AddSeconds(-1)) return;
            // The live logger already recorded what the trainers logged; the CSV adds only what it lacks (a resumed run's earlier steps).
            run.Flush();
            var recorded = store.GetMetricHistory(run.Id).Select(p => (p.Key, p.Step)).ToHashSet();
            foreach (var (step, metrics) in CsvMetricsReader.Read(csv))
            {
                var missing = metrics.Where(m => recorded.Add((m.Key, step))).ToDictionary();
                if (missing.Count > 0) run.LogMetrics(missing, step);
            }
        }

        void RecordArtifacts()
        {
            var roots = new List<(string Path, bool Input)>();
            if (parameters.GetValueOrDefault("out") is { } output) roots.Add((Path.GetFullPath(output), false));
            foreach (string key in (string[])["model", "adapter"])
                if (parameters.GetValueOrDefault(key) is { } input && (Directory.Exists(input) || File.Exists(input)))
                    roots.Add((Path.GetFullPath(Directory.Exists(input) ? input : Path.GetDirectoryName(Path.GetFullPath(input))!), true));
            var logged = new HashSet<string>(StringComparer.Ordinal);
            foreach (var (root, isInput) in roots.DistinctBy(r => r.Path))
            {
                if (File.Exists(root)) { if (Written(root)) Log(root, KindOfFile(root), logged); continue; }
                if (!Directory.Exists(root)) continue;
                foreach (string dir in (string[])[root, .. Directory.EnumerateDirectories(root).Order(StringComparer.Ordinal)])
                {
                    if (isInput && dir == root)
                    {
                        // An input folder is not an output; only the files the command wrote into it (export's model.onnx) are.
                        foreach (string file in Directory.EnumerateFiles(dir).Order(StringComparer.Ordinal))
                            if (KindOfFile(file) is ArtifactKind.Onnx or ArtifactKind.Plot && Written(file)) Log(file, KindOfFile(file), logged);
                        continue;
                    }
                    if (Path.GetFileName(dir) == "checkpoints")
                    {
                        foreach (string checkpoint in Directory.EnumerateDirectories(dir).Order(StringComparer.Ordinal))
                            if (Written(checkpoint)) Log(checkpoint, ArtifactKind.Checkpoint, logged);
                        continue;
                    }
                    if (KindOfFolder(dir) is { } kind && Written(dir))
                    {
                        Log(dir, kind, logged);
                        if (kind is ArtifactKind.ModelFolder or ArtifactKind.Adapter)
                            foreach (string weights in Directory.EnumerateFiles(dir, "*.safetensors").Order(StringComparer.Ordinal)) run.LogArtifact(weights, ArtifactKind.Weights);
                        continue;
                    }
                    foreach (string file in Directory.EnumerateFiles(dir).Order(StringComparer.Ordinal))
                        if (KindOfFile(file) is not ArtifactKind.Other and var fileKind && Written(file)) Log(file, fileKind, logged);
                }
            }
        }

        void Log(string path, ArtifactKind kind, HashSet<string> logged)
        {
            if (logged.Any(l => path == l || path.StartsWith(l + Path.DirectorySeparatorChar, StringComparison.Ordinal))) return;
            run.LogArtifact(path, kind);
            logged.Add(path);
        }

        // Only what this command wrote: an input model folder is a root too (export writes beside it), but its old files are not outputs.
        bool Written(string path) => File.Exists(path)
            ? File.GetLastWriteTimeUtc(path) >= started.AddSeconds(-1)
            : Directory.EnumerateFiles(path, "*", SearchOption.AllDirectories).Any(f => File.GetLastWriteTimeUtc(f) >= started.AddSeconds(-1));

        static ArtifactKind? KindOfFolder(string dir) =>
            File.Exists(Path.Combine(dir, "adapter_config.json")) ? ArtifactKind.Adapter
            : File.Exists(Path.Combine(dir, "config.json")) && Directory.EnumerateFiles(dir, "*.safetensors").Any() ? ArtifactKind.ModelFolder
            : Directory.EnumerateFiles(dir, "*.onnx").Any() && !Directory.EnumerateFiles(dir, "*.safetensors").Any() ? ArtifactKind.Onnx
            : null;

        static ArtifactKind KindOfFile(string file) => Path.GetExtension(file).ToLowerInvariant() switch
        {
            ".onnx" or ".ort" => ArtifactKind.Onnx,
            ".png" or ".svg" => ArtifactKind.Plot,
            ".safetensors" => ArtifactKind.ModelFolder,
            _ => ArtifactKind.Other,
        };
    }
}
