using System.CommandLine;
using Spectre.Console;
using Tessera.Data;
using Tessera.Runtime;
using Tessera.Tasks;
using Tessera.Training.Metrics;

namespace Tessera.Cli;

static class EvalCommand
{
    public static Command Create()
    {
        var modelDir = new Argument<string>("model")
        {
            Description = "Model folder (config.json + model.safetensors, run in TorchSharp), or an .onnx file or a folder with model.onnx (run in ONNX Runtime), or a diffusion pipeline folder (with --classifier; an exported one samples in ONNX Runtime)",
        };
        var data = new Option<string>("--data") { Description = "Evaluation dataset", DefaultValueFactory = _ => "fashion-mnist" };
        data.AcceptOnlyFromAmong("fashion-mnist");
        var dataDir = new Option<string?>("--data-dir") { Description = "Folder with the IDX files [default: /usr/share/datasets/fashion-mnist]" };
        var command = new Command("eval", "Evaluate a model folder or an ONNX model on a test set; prints accuracy and a per-class table") { modelDir, data, dataDir };
        foreach (var option in DiffusionEvalCommand.All) command.Options.Add(option);
        command.SetAction(parse =>
        {
            string path = parse.GetValue(modelDir)!;
            if (Diffusion.Pipelines.PipelineFolder.IsPipeline(path)) return DiffusionEvalCommand.Run(parse, path, parse.GetValue(dataDir));
            ClassificationReport report;
            IReadOnlyList<string> labels;
            if (OnnxPaths.IsOnnx(path))
            {
                using var model = OnnxModel.Load(path);
                using var test = FashionMnist.Load(train: false, parse.GetValue(dataDir));
                report = OnnxEvaluation.Evaluate(model, test);
                labels = model.Labels;
            }
            else
            {
                using var predictor = ImagePredictor.Load(path);
                using var test = FashionMnist.Load(train: false, parse.GetValue(dataDir));
                report = predictor.Evaluate(test);
                labels = predictor.Folder.Labels;
            }
            Print(report, labels, parse.InvocationConfiguration.Output);
            return 0;
        });
        return command;
    }

    static void Print(ClassificationReport report, IReadOnlyList<string> labels, TextWriter output)
    {
        output.WriteLine($"accuracy: {report.Accuracy:0.0000}");
        output.WriteLine($"macro_f1: {report.MacroF1:0.0000}");
        var table = new Table().AddColumns("class", "precision", "recall", "f1");
        for (int i = 0; i < report.PerClassF1.Count; i++)
            table.AddRow(Markup.Escape(i < labels.Count ? labels[i] : i.ToString()), $"{report.PerClassPrecision[i]:0.0000}",
                $"{report.PerClassRecall[i]:0.0000}", $"{report.PerClassF1[i]:0.0000}");
        AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(output) }).Write(table);
    }
}
