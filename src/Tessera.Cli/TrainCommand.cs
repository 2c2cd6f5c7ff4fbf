using System.CommandLine;
using Spectre.Console;
using Tessera.Recipes;

namespace Tessera.Cli;

static class TrainCommand
{
    public static Command Create()
    {
        var dataset = new Argument<string>("dataset") { Description = "Dataset to train on (fashion-mnist)" };
        dataset.AcceptOnlyFromAmong("fashion-mnist");
        var model = new Option<string>("--model") { Description = "Architecture: cnn, mlp or resnet", DefaultValueFactory = _ => "cnn" };
        model.AcceptOnlyFromAmong([.. Models.ModelRegistry.ModelTypesFor(Models.ModelTasks.ImageClassification)]);
        var config = new Option<string?>("--config") { Description = "Architecture config.json (or a model folder with one) to train instead of --model's defaults (e.g. a resnet with other depths/widths)" };
        var epochs = new Option<int>("--epochs") { Description = "Training epochs", DefaultValueFactory = _ => 5 }.AtLeast(1);
        var batch = new Option<int>("--batch-size") { Description = "Batch size", DefaultValueFactory = _ => 128 }.AtLeast(1);
        var lr = new Option<double?>("--lr") { Description = "Learning rate [default: 1e-3 with Adam; resnet 3e-3 peak of one-cycle AdamW]" }.PositiveFinite();
        var schedule = new Option<string?>("--schedule") { Description = "LR schedule: none, cosine or onecycle [default: cosine (5% warmup) for cnn/mlp, onecycle for resnet]" };
        schedule.AcceptOnlyFromAmong("none", "cosine", "onecycle");
        var smoothing = new Option<double?>("--label-smoothing") { Description = "Label smoothing of the cross-entropy loss [default: 0.1 for cnn/mlp, 0 for resnet]" }.Fraction();
        var seed = new Option<int>("--seed") { Description = "Random seed", DefaultValueFactory = _ => 0 };
        var output = new Option<string>("--out") { Description = "Output folder (model/, checkpoints/, metrics.csv, events/)", DefaultValueFactory = _ => "runs/fashion-mnist" };
        var limit = new Option<int?>("--limit-train") { Description = "Train on the first N training images only (after the validation images are held out)" }.AtLeast(1);
        var resume = new Option<bool>("--resume") { Description = "Continue from <out>/checkpoints/last" };
        var overwrite = new Option<bool>("--overwrite") { Description = "Replace the run already in --out (its model/, checkpoints/, events/, metrics.csv); without it or --resume a non-empty --out is refused" };
        var device = new Option<string>("--device") { Description = "cpu, cuda, cuda:N or auto", DefaultValueFactory = _ => "cpu" };
        var augment = new Option<bool?>("--augment") { Description = "Random crop + flip [default: on for resnet]" };
        var dataDir = new Option<string?>("--data-dir") { Description = "Folder with the IDX files [default: /usr/share/datasets/fashion-mnist]" };
        var threads = new Option<int?>("--threads") { Description = "libtorch threads [default: all cores]" }.AtLeast(1);
        var valSize = new Option<int>("--val-size")
        {
            Description = "Training images held out (from the end of the training set) for validation and the best checkpoint; the test set only gives the final report; 0 = no validation",
            DefaultValueFactory = _ => FashionMnistTrainingOptions.DefaultValidationSize,
        }.AtLeast(0);
        var strategy = StrategyOption.Create();
        var precision = PrecisionOption.Create();

        var command = new Command("train", "Train a model and write a model folder, checkpoints and logs")
        {
            dataset, model, config, epochs, batch, lr, schedule, smoothing, seed, output, limit, resume, overwrite, device, augment, dataDir, threads, valSize, strategy, precision,
        };
        command.SetAction(parse => StrategyOption.Run(parse.GetValue(strategy)!, chosen =>
        {
            var result = FashionMnistTraining.Run(new FashionMnistTrainingOptions
            {
                Strategy = chosen,
                Model = parse.GetValue(model)!,
                Config = parse.GetValue(config) is string path ? Transformers.PretrainedConfig.Load(ConfigFile(path)) : null,
                Epochs = parse.GetValue(epochs),
                BatchSize = parse.GetValue(batch),
                LearningRate = parse.GetValue(lr),
                Schedule = parse.GetValue(schedule),
                LabelSmoothing = parse.GetValue(smoothing),
                Seed = parse.GetValue(seed),
                OutputDir = parse.GetValue(output)!,
                LimitTrain = parse.GetValue(limit),
                Resume = parse.GetValue(resume),
                Overwrite = parse.GetValue(overwrite),
                Device = parse.GetValue(device)!,
                Augment = parse.GetValue(augment),
                DataDir = parse.GetValue(dataDir),
                Threads = parse.GetValue(threads),
                ValidationSize = parse.GetValue(valSize),
                Precision = parse.GetValue(precision)!,
            });
            var table = new Table().AddColumns("model", "epochs", "test accuracy", "macro F1", "train time", "images/s", "model folder");
            table.AddRow(result.Model, result.Epochs.ToString(), $"{result.TestAccuracy:0.0000}", $"{result.MacroF1:0.0000}",
                $"{result.TrainSeconds:0.0}s", $"{result.ImagesPerSecond:0}", Markup.Escape(result.ModelDir));
            if (chosen.IsGlobalZero) AnsiConsole.Write(table);
            return 0;
        }));
        command.Subcommands.Add(TrainLmCommand.Create());
        command.Subcommands.Add(TrainDiffusionCommand.Create());
        return command;
    }

    /// <summary>--config names a config.json, or a model folder that has one.</summary>
    static string ConfigFile(string path) =>
        !Directory.Exists(path) ? path
        : File.Exists(Path.Combine(path, "config.json")) ? Path.Combine(path, "config.json")
        : throw new UsageException($"--config {path} is a folder without a config.json; expected a config.json file or a model folder");
}
