using Tessera.Recipes;
using Tessera.Training;

namespace Tessera.Bench;

/// <summary>Trains on Fashion-MNIST with the CLI defaults and reports test accuracy, wall time and RSS after each epoch.</summary>
static class Accuracy
{
    public static object Run(string model, int epochs, string? threads, string? schedule, int seed, string? widths, double? labelSmoothing)
    {
        var rss = new RssPerEpoch();
        var result = FashionMnistTraining.Run(new FashionMnistTrainingOptions
        {
            Model = model,
            Epochs = epochs,
            Schedule = schedule,
            LabelSmoothing = labelSmoothing,
            Config = widths is null ? null : new Models.ResNetConfig { Widths = widths.Split(',').Select(int.Parse).ToArray() },
            Seed = seed,
            ValidationSize = 0, // all 60,000 training images, as the table in bench/README.md and the PyTorch reference
            OutputDir = Path.Combine("bench/results", $"run-{model}"),
            Threads = threads is null ? null : int.Parse(threads),
            PlainProgress = true,
            Callbacks = [rss],
        });
        Console.WriteLine();
        Console.WriteLine("| model | epochs | test accuracy | train time | total time | images/s | RSS epoch 1 | RSS last epoch |");
        Console.WriteLine("|---|---|---|---|---|---|---|---|");
        Console.WriteLine($"| {model} | {result.Epochs} | {result.TestAccuracy:0.0000} | {result.TrainSeconds:0}s | {result.TotalSeconds:0}s | {result.ImagesPerSecond:0} | {rss.Values[0]:0} MB | {rss.Values[^1]:0} MB |");
        return new { model, epochs = result.Epochs, test_accuracy = result.TestAccuracy, macro_f1 = result.MacroF1, train_seconds = result.TrainSeconds,
            total_seconds = result.TotalSeconds, images_per_second = result.ImagesPerSecond, rss_mb_per_epoch = rss.Values };
    }

    sealed class RssPerEpoch : Callback
    {
        public List<double> Values { get; } = [];
        public override void OnTrainEpochEnd(Trainer trainer, TrainingModuleBase module)
        {
            GC.Collect();
            Values.Add(Rss.Megabytes());
        }
    }
}
