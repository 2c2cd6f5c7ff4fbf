using System.CommandLine;
using Tessera.Tracking.Mlflow;
using Tessera.Tracking.Runs;

namespace Tessera.Cli;

/// <summary><c>tessera runs export --mlflow DIR [ids...]</c>: writes recorded runs in MLflow's mlruns/ file layout.</summary>
static class RunsExportCommand
{
    public static Command Create()
    {
        var mlflow = new Option<string>("--mlflow")
        {
            Description = "Folder to write MLflow's file-store layout into (an mlruns/ folder: mlflow ui --backend-store-uri DIR reads it)",
            Required = true,
        };
        var ids = new Argument<string[]>("ids") { Description = "Runs to export (ids or unique prefixes) [default: every run]", Arity = ArgumentArity.ZeroOrMore };
        var command = new Command("export", "Export runs for MLflow without a network: experiments, runs, params, metrics, tags and model cards in the mlruns/ layout") { mlflow, ids };
        command.SetAction(parse =>
        {
            using var store = RunStore.Open(parse.GetValue<string?>(CliTracking.TrackingUriOption));
            string directory = parse.GetValue(mlflow)!;
            var exported = MlflowFileStoreExporter.Export(store, directory, parse.GetValue(ids));
            var output = parse.InvocationConfiguration.Output;
            foreach (var (runId, folder) in exported) output.WriteLine($"{runId} -> {folder}");
            output.WriteLine($"exported {exported.Count} run(s) to {Path.GetFullPath(directory)} (mlflow ui --backend-store-uri {Path.GetFullPath(directory)})");
            return 0;
        });
        return command;
    }
}
