using System.CommandLine;
using System.Globalization;
using Tessera.Export;

namespace Tessera.Cli;

static class ExportCommand
{
    public static Command Create()
    {
        var modelDir = new Argument<string>("model") { Description = "Model folder (config.json + model.safetensors)" };
        var output = new Option<string?>("--out")
        {
            Description = "Output .onnx file, or a folder (ending in / or existing) that gets model.onnx plus config.json and preprocessor_config.json [default: <model>/model.onnx]",
        };
        var opset = new Option<int>("--opset") { Description = "ONNX opset (at least 17)", DefaultValueFactory = _ => OnnxGraphBuilder.DefaultOpset };
        var noVerify = new Option<bool>("--no-verify") { Description = "Skip running the graph in ONNX Runtime against TorchSharp before writing it" };
        var command = new Command("export", "Export a model folder to ONNX; checks the graph in ONNX Runtime against TorchSharp and prints the largest difference")
        {
            modelDir, output, opset, noVerify,
        };
        command.SetAction(parse =>
        {
            string folder = parse.GetValue(modelDir)!;
            Models.ModelFolder.Open(folder); // a missing or malformed folder fails before --out's folder is created
            var (file, outFolder) = OnnxPaths.Output(parse.GetValue(output) ?? Path.Combine(folder, Runtime.OnnxModel.ModelFileName));
            var report = OnnxExporter.ExportFolder(folder, file, new OnnxExportOptions { Opset = parse.GetValue(opset), Verify = !parse.GetValue(noVerify) });
            if (outFolder is not null) OnnxPaths.CopyFolderFiles(folder, outFolder);
            Print(report, parse.InvocationConfiguration.Output);
            return 0;
        });
        return command;
    }

    static void Print(OnnxExportReport report, TextWriter output)
    {
        long size = new FileInfo(report.Path).Length + (report.ExternalDataPath is { } data ? new FileInfo(data).Length : 0);
        output.WriteLine($"wrote {report.Path}{(report.ExternalDataPath is { } d ? $" (+ {d})" : "")}");
        output.WriteLine($"opset {report.Opset}, {report.NodeCount} nodes, {OnnxPaths.Size(size)}");
        output.WriteLine(report.Verified
            ? string.Create(CultureInfo.InvariantCulture,
                $"max abs error vs TorchSharp: {report.MaxAbsoluteError:0.0e+00} (relative {report.MaxRelativeError:0.0e+00}; batch {string.Join(", ", report.VerifiedBatchSizes)})")
            : "not verified (--no-verify)");
    }
}
