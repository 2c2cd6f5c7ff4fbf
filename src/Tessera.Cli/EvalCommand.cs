using System.CommandLine;
using Spectre.Console;
using Tessera.Data;
using Tessera.Tasks;

namespace Tessera.Cli;

static class EvalCommand
{
    public static Command Create()
    {
        var modelDir = new Argument<string>("model") { Description = "Model folder (config.json + model.safetensors)" };
        var data = new Option<string>("--data") { Description = "Evaluation dataset", DefaultValueFactory = _ => "fashion-mnist" };
        data.AcceptOnlyFromAmong("fashion-mnist");
        var dataDir = new Option<string?>("--data-dir") { Description = "Folder with the IDX files [default: /usr/share/datasets/fashion-mnist]" };
        var command = new Command("eval", "Evaluate a model folder on a test set; prints accuracy and a per-class table") { modelDir, data, dataDir };
        command.SetAction(parse =>
        {
            using var predictor = ImagePredictor.Load(parse.GetValue(modelDir)!);
            using var test = FashionMnist.Load(train: false, parse.GetValue(dataDir));
            var report = predictor.Evaluate(test);
            var output = parse.InvocationConfiguration.Output;
            output.WriteLine($"accuracy: {report.Accuracy:0.0000}");
            output.WriteLine($"macro_f1: {report.MacroF1:0.0000}");
            var table = new Table().AddColumns("class", "precision", "recall", "f1");
            var labels = predictor.Folder.Labels;
            for (int i = 0; i < report.PerClassF1.Count; i++)
                table.AddRow(Markup.Escape(i < labels.Count ? labels[i] : i.ToString()), $"{report.PerClassPrecision[i]:0.0000}",
                    $"{report.PerClassRecall[i]:0.0000}", $"{report.PerClassF1[i]:0.0000}");
            AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(output) }).Write(table);
            return 0;
        });
        return command;
    }
}
