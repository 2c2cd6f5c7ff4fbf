using System.CommandLine;
using Tessera.Data;
using Tessera.Data.Transforms;
using Tessera.Models;
using Tessera.Tasks;
using Tessera.Training;
using Tessera.Transformers;
using static TorchSharp.torch;

namespace Tessera.Cli;

static class LrFindCommand
{
    public static Command Create()
    {
        var dataset = new Argument<string>("dataset") { Description = "Dataset (fashion-mnist)" };
        dataset.AcceptOnlyFromAmong("fashion-mnist");
        var model = new Option<string>("--model") { Description = "Architecture: cnn, mlp or resnet", DefaultValueFactory = _ => "cnn" };
        model.AcceptOnlyFromAmong([.. Models.ModelRegistry.ModelTypesFor(Models.ModelTasks.ImageClassification)]);
        var batch = new Option<int>("--batch-size") { Description = "Batch size", DefaultValueFactory = _ => 128 }.AtLeast(1);
        var start = new Option<double>("--start-lr") { Description = "First learning rate of the sweep", DefaultValueFactory = _ => 1e-7 }.PositiveFinite();
        var end = new Option<double>("--end-lr") { Description = "Last learning rate of the sweep", DefaultValueFactory = _ => 10 }.PositiveFinite();
        var iterations = new Option<int>("--iterations") { Description = "Sweep steps", DefaultValueFactory = _ => 100 }.AtLeast(2);
        var seed = new Option<int>("--seed") { Description = "Random seed", DefaultValueFactory = _ => 0 };
        var output = new Option<string>("--out") { Description = "Folder for lr_find.png and lr_find.csv", DefaultValueFactory = _ => "runs/lr-find" };
        var dataDir = new Option<string?>("--data-dir") { Description = "Folder with the IDX files [default: /usr/share/datasets/fashion-mnist]" };
        var command = new Command("lr-find", "Sweep the learning rate exponentially (fastai's lr_find); prints a suggestion and writes a plot")
        {
            dataset, model, batch, start, end, iterations, seed, output, dataDir,
        };
        command.SetAction(parse =>
        {
            manual_seed(parse.GetValue(seed));
            PretrainedConfig config = AutoConfig.ForModel(parse.GetValue(model)!);
            using var data = FashionMnist.Load(train: true, parse.GetValue(dataDir));
            data.Transform = new Normalize([FashionMnist.Mean], [FashionMnist.Std]);
            var loader = new DataLoader<Batch>(data, new DataLoaderOptions { BatchSize = parse.GetValue(batch), Shuffle = true, Seed = parse.GetValue(seed) });
            using var network = AutoModelForImageClassification.FromConfig(config);
            using var module = new ImageClassifier(network);
            var result = LrFinder.Run(module, loader, new LrFinderOptions
            {
                StartLr = parse.GetValue(start),
                EndLr = parse.GetValue(end),
                NumIterations = parse.GetValue(iterations),
            });
            string outDir = parse.GetValue(output)!;
            Directory.CreateDirectory(outDir);
            string plot = Path.Combine(outDir, "lr_find.png");
            result.SavePlot(plot);
            result.ToCsv(Path.Combine(outDir, "lr_find.csv"));
            var o = parse.InvocationConfiguration.Output;
            o.WriteLine($"suggested_lr: {result.SuggestedLr:G3}");
            o.WriteLine($"steepest_lr: {result.SteepestLr:G3}");
            o.WriteLine($"minimum_lr: {result.MinimumLr:G3}");
            o.WriteLine($"plot: {plot}");
            return 0;
        });
        return command;
    }
}
