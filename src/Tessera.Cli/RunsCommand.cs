using System.CommandLine;
using System.Globalization;
using Spectre.Console;
using Tessera.Tracking.Runs;

namespace Tessera.Cli;

/// <summary><c>tessera runs list|show|compare|reproduce|lineage</c>: reads the runs store that tracked commands write.</summary>
static class RunsCommand
{
    public static Command Create()
    {
        var command = new Command("runs", "List, show, compare and reproduce the recorded runs (every train, finetune, export, quantize, eval and bench is recorded)");
        command.Subcommands.Add(List());
        command.Subcommands.Add(Show());
        command.Subcommands.Add(Compare());
        command.Subcommands.Add(Reproduce());
        command.Subcommands.Add(RunsLineageCommand.Create());
        command.Subcommands.Add(RunsExportCommand.Create());
        return command;
    }

    static Command List()
    {
        var limit = new Option<int>("--limit") { Description = "Newest runs to show", DefaultValueFactory = _ => 50 }.AtLeast(1);
        var experiment = new Option<string?>("--experiment") { Description = "Only this experiment's runs (train, finetune, export, ...)" };
        var command = new Command("list", "Table of runs, newest first: id, name, status, key metrics, duration") { limit, experiment };
        command.SetAction(parse =>
        {
            using var store = OpenStore(parse);
            long? experimentId = parse.GetValue(experiment) is { } name
                ? store.ListExperiments().FirstOrDefault(e => e.Name == name)?.Id ?? throw new UsageException($"--experiment {name}: no such experiment in {store.Path}")
                : null;
            var runs = store.ListRuns(experimentId, parse.GetValue(limit));
            var metrics = store.GetLatestMetrics(runs.Select(r => r.Id));
            var table = new Table().AddColumns("id", "name", "status", "started (UTC)", "duration", "metrics");
            foreach (var run in runs)
                table.AddRow(run.Id, Markup.Escape(run.Name), StatusMarkup(run.Status), run.StartTime.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture),
                    Duration(run.Duration), Markup.Escape(KeyMetrics(metrics[run.Id])));
            Console(parse).Write(table);
            return 0;
        });
        return command;
    }

    static Command Show()
    {
        var id = new Argument<string>("id") { Description = "Run id (or a unique prefix of at least 4 digits)" };
        var command = new Command("show", "Everything recorded for a run: parameters, final metrics, datasets, artifacts, environment") { id };
        command.SetAction(parse =>
        {
            using var store = OpenStore(parse);
            var run = store.GetRun(parse.GetValue(id)!);
            var console = Console(parse);
            var info = new Table().AddColumns("run", run.Id).HideHeaders();
            info.AddRow("name", Markup.Escape(run.Name));
            info.AddRow("status", StatusMarkup(run.Status));
            info.AddRow("started (UTC)", run.StartTime.UtcDateTime.ToString("u", CultureInfo.InvariantCulture));
            info.AddRow("duration", Duration(run.Duration));
            info.AddRow("command", Markup.Escape(run.CommandLine));
            if (run.ParentId is not null) info.AddRow("parent", run.ParentId);
            console.Write(info);
            console.Write(KeyValueTable("parameter", store.GetParams(run.Id)));
            console.Write(KeyValueTable("metric (final)", store.GetLatestMetrics(run.Id).ToDictionary(m => m.Key, m => m.Value.ToString("R", CultureInfo.InvariantCulture))));
            console.Write(KeyValueTable("tag", store.GetTags(run.Id)));
            var datasets = new Table().AddColumns("dataset", "source", "files", "bytes", "sha256");
            foreach (var d in store.GetDatasets(run.Id)) datasets.AddRow(Markup.Escape(d.Name), Markup.Escape(d.Source), $"{d.FileCount}", $"{d.Size}", d.Sha256);
            console.Write(datasets);
            var artifacts = new Table().AddColumns("artifact", "kind", "files", "bytes", "sha256");
            foreach (var a in store.GetArtifacts(run.Id)) artifacts.AddRow(Markup.Escape(a.Path), a.Kind.ToString(), $"{a.FileCount}", $"{a.Size}", a.Sha256);
            console.Write(artifacts);
            if (store.GetEnvironment(run.Id) is { } environment)
                console.Write(KeyValueTable("environment", environment.Values.Where(v => v.Key != "git.diff" && !v.Key.StartsWith("package.", StringComparison.Ordinal))
                    .ToDictionary(v => v.Key, v => v.Value)));
            return 0;
        });
        return command;
    }

    static Command Compare()
    {
        var left = new Argument<string>("id") { Description = "First run" };
        var right = new Argument<string>("other") { Description = "Second run" };
        var all = new Option<bool>("--all") { Description = "Show equal values too (default: only the differences, plus every metric)" };
        var command = new Command("compare", "Two runs side by side: parameters, final metrics, output hashes and environment; differences highlighted") { left, right, all };
        command.SetAction(parse =>
        {
            using var store = OpenStore(parse);
            var comparison = RunComparison.Compare(store, parse.GetValue(left)!, parse.GetValue(right)!);
            WriteComparison(Console(parse), comparison, parse.GetValue(all));
            return 0;
        });
        return command;
    }

    static Command Reproduce()
    {
        var id = new Argument<string>("id") { Description = "Run to re-run" };
        var output = new Option<string?>("--out") { Description = "Output folder of the new run [default: the recorded --out with -reproduce-<id> appended]" };
        var command = new Command("reproduce",
            "Re-run a recorded command (into a new output folder), then compare final metrics and output hashes, and report every environment difference; exit code 1 when results differ")
        { id, output };
        command.SetAction(parse =>
        {
            string storePath;
            RunInfo original;
            IReadOnlyDictionary<string, string> parameters;
            using (var store = OpenStore(parse))
            {
                storePath = store.Path;
                original = store.GetRun(parse.GetValue(id)!);
                parameters = store.GetParams(original.Id);
            }
            if (original.Arguments.Count == 0) throw new UsageException($"run {original.Id} has no recorded command line (it was started from code)");
            var args = original.Arguments.ToList();
            if (parameters.GetValueOrDefault("out") is { } recordedOut)
            {
                string newOut = parse.GetValue(output) ?? $"{recordedOut.TrimEnd('/')}-reproduce-{original.Id[..8]}";
                args = WithOption(args, "--out", newOut);
            }
            args = WithOption(args, CliTracking.TrackingUriOption, storePath);
            args.Remove(CliTracking.NoTrackOption);
            var console = Console(parse);
            console.MarkupLine($"re-running [bold]{Markup.Escape("tessera " + string.Join(' ', args.Select(CliTracking.Quote)))}[/]");
            CliTracking.ReproducingRunId.Value = original.Id;
            int code;
            try { code = Cli.Run(Cli.CreateRoot(), [.. args], parse.InvocationConfiguration.Output, parse.InvocationConfiguration.Error); }
            finally { CliTracking.ReproducingRunId.Value = null; }
            using var reopened = RunStore.Open(storePath);
            var rerun = reopened.ListRuns().FirstOrDefault(r => r.ParentId == original.Id)
                ?? throw new TrackingException($"the re-run of {original.Id} was not recorded in {storePath}");
            var comparison = RunComparison.Compare(reopened, original.Id, rerun.Id);
            WriteComparison(console, comparison, all: false);
            bool same = code == 0 && comparison.SameResults;
            console.MarkupLine(same
                ? $"[green]reproduced[/]: run {rerun.Id} has the same final metrics and output hashes as {original.Id}"
                : $"[red]not reproduced[/]: run {rerun.Id} differs from {original.Id}{(code != 0 ? $" (exit code {code})" : "")}");
            if (comparison.Environment.Count > 0) console.MarkupLine($"[yellow]{comparison.Environment.Count} environment difference(s)[/] (listed above)");
            return same ? 0 : Cli.FailureExitCode;
        });
        return command;
    }

    static List<string> WithOption(List<string> args, string name, string value)
    {
        var result = new List<string>();
        for (int i = 0; i < args.Count; i++)
        {
            if (args[i] == name) { i++; continue; }
            if (args[i].StartsWith(name + "=", StringComparison.Ordinal)) continue;
            result.Add(args[i]);
        }
        result.Add(name);
        result.Add(value);
        return result;
    }

    static void WriteComparison(IAnsiConsole console, RunComparison c, bool all)
    {
        string Cell(string? value, bool differs) => value is null ? "[grey]-[/]" : differs ? $"[yellow]{Markup.Escape(value)}[/]" : Markup.Escape(value);
        var table = new Table().AddColumns("", c.Left.Id, c.Right.Id);
        table.AddRow("name", Markup.Escape(c.Left.Name), Markup.Escape(c.Right.Name));
        table.AddRow("status", StatusMarkup(c.Left.Status), StatusMarkup(c.Right.Status));
        foreach (var (key, l, r) in c.Params.Where(p => all || p.Left != p.Right)) table.AddRow($"param {Markup.Escape(key)}", Cell(l, l != r), Cell(r, l != r));
        foreach (var (key, l, r) in c.Metrics)
            table.AddRow($"metric {Markup.Escape(key)}", Cell(l?.ToString("R", CultureInfo.InvariantCulture), l != r), Cell(r?.ToString("R", CultureInfo.InvariantCulture), l != r));
        foreach (var (path, _, l, r) in c.Artifacts.Where(a => all || a.Left != a.Right || a.Kind is ArtifactKind.Weights or ArtifactKind.Onnx))
            table.AddRow($"sha256 {Markup.Escape(path)}", Cell(l?[..12], l != r), Cell(r?[..12], l != r));
        foreach (var (key, l, r) in c.Environment.Where(e => e.Key != "git.diff"))
            table.AddRow($"env {Markup.Escape(key)}", Cell(Short(l), true), Cell(Short(r), true));
        if (c.Environment.Any(e => e.Key == "git.diff")) table.AddRow("env git.diff", "[yellow]differs[/]", "[yellow]differs[/]");
        console.Write(table);
    }

    static string? Short(string? value) => value is { Length: > 80 } ? value[..77] + "..." : value;

    static Table KeyValueTable(string title, IReadOnlyDictionary<string, string> values)
    {
        var table = new Table().AddColumns(title, "value");
        foreach (var (key, value) in values) table.AddRow(Markup.Escape(key), Markup.Escape(Short(value)!));
        return table;
    }

    static RunStore OpenStore(ParseResult parse) => RunStore.Open(parse.GetValue<string?>(CliTracking.TrackingUriOption));

    static IAnsiConsole Console(ParseResult parse)
    {
        var console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(parse.InvocationConfiguration.Output) });
        console.Profile.Width = Math.Max(console.Profile.Width, 160);
        return console;
    }

    static string StatusMarkup(RunStatus status) => status switch
    {
        RunStatus.Finished => "[green]FINISHED[/]",
        RunStatus.Running => "[blue]RUNNING[/]",
        RunStatus.Failed => "[red]FAILED[/]",
        _ => "[yellow]KILLED[/]",
    };

    static string Duration(TimeSpan d) => d.TotalSeconds < 60 ? $"{d.TotalSeconds:0.0}s" : d.TotalMinutes < 60 ? $"{(int)d.TotalMinutes}m{d.Seconds:00}s" : $"{(int)d.TotalHours}h{d.Minutes:00}m";

    // The first few metrics, validation and test ones first: what a table row has room for.
    static string KeyMetrics(IReadOnlyDictionary<string, double> metrics) => string.Join("  ",
        metrics.OrderBy(m => m.Key.StartsWith("val", StringComparison.Ordinal) || m.Key.StartsWith("test", StringComparison.Ordinal) ? 0 : 1).ThenBy(m => m.Key, StringComparer.Ordinal)
            .Take(4).Select(m => $"{m.Key}={m.Value.ToString("0.####", CultureInfo.InvariantCulture)}"));
}
