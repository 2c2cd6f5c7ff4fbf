using System.CommandLine;
using System.Globalization;
using Tessera.Tracking.Runs;

namespace Tessera.Cli;

/// <summary>
/// <c>tessera runs lineage &lt;artifact or run id&gt;</c>: the chain of runs behind an artifact, back to the data
/// (dataset fingerprints) and the base models no recorded run produced.
/// </summary>
static class RunsLineageCommand
{
    public static Command Create()
    {
        var target = new Argument<string>("artifact") { Description = "An artifact path (model folder, adapter, .onnx, checkpoint) or a run id" };
        var command = new Command("lineage", "The runs that made an artifact, back to the data (dataset fingerprints) and the base models") { target };
        command.SetAction(parse =>
        {
            using var store = RunStore.Open(parse.GetValue<string?>(CliTracking.TrackingUriOption));
            var output = parse.InvocationConfiguration.Output;
            foreach (var step in RunLineage.Trace(store, parse.GetValue(target)!))
            {
                string indent = new(' ', 2 * step.Depth);
                var run = step.Run;
                output.WriteLine($"{indent}{(step.Depth == 0 ? "" : "<- ")}run {run.Id} {run.Name} [{run.Status}] {run.StartTime.UtcDateTime.ToString("u", CultureInfo.InvariantCulture)}");
                output.WriteLine($"{indent}   command: {run.CommandLine}");
                foreach (var d in step.Datasets)
                    output.WriteLine($"{indent}   data: {d.Name} {d.Source}{(d.Revision is null ? "" : "@" + d.Revision)} sha256:{d.Sha256} ({d.FileCount} files, {d.Size} bytes)");
                foreach (var (path, producer) in step.Inputs)
                    output.WriteLine($"{indent}   input: {path} {(producer is null ? "(base model: no recorded run produced it)" : "<- run " + producer)}");
                foreach (var a in step.Artifacts.Where(a => a.Kind is not ArtifactKind.Weights))
                    output.WriteLine($"{indent}   wrote: {a.Path} ({a.Kind}, sha256:{a.Sha256})");
            }
            return 0;
        });
        return command;
    }
}
