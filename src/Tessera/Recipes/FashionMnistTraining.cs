using System.Diagnostics;
using Tessera.Data;
using Tessera.Data.Transforms;
using Tessera.Formats;
using Tessera.Models;
using Tessera.Tasks;
using Tessera.Training;
using Tessera.Training.Callbacks;
using Tessera.Training.Loggers;
using Tessera.Training.Metrics;
using Tessera.Transformers;
using TorchSharp;
using static TorchSharp.torch;

namespace Tessera.Recipes;

/// <summary>
/// The end-to-end Fashion-MNIST story: load the data, hold out validation images from the training set, build the
/// model, train with checkpoints and logs, evaluate the last epoch's weights on the test set (only then, only for the
/// report) and write a model folder with a model card. What <c>tessera train fashion-mnist</c> runs.
/// </summary>
public static class FashionMnistTraining
{
    /// <summary>Trains and evaluates as <paramref name="options"/> says; returns the measured results.</summary>
    public static FashionMnistTrainingResult Run(FashionMnistTrainingOptions options, TextWriter? log = null)
    {
        log ??= Console.Out;
        var clock = Stopwatch.StartNew();
        if (options.Epochs < 1) throw new ArgumentException("--epochs must be at least 1");
        if (options.BatchSize < 1) throw new ArgumentException("--batch-size must be at least 1");
        if (options.LimitTrain is < 1) throw new ArgumentException($"--limit-train must be at least 1 (got {options.LimitTrain})");
        if (options.ValidationSize < 0) throw new ArgumentException($"--val-size must not be negative (got {options.ValidationSize})");
        if (options.Threads is int t) set_num_threads(t);
        manual_seed(options.Seed);

        string model = (options.Config?.ModelType ?? options.Model).ToLowerInvariant();
        bool augment = options.Augment ?? model == "resnet";
        PretrainedConfig config = options.Config ?? (ModelRegistry.Supports(model, ModelTasks.ImageClassification)
            ? AutoConfig.ForModel(model)
            : throw new ArgumentException($"unknown model '{options.Model}': expected one of {string.Join(", ", ModelRegistry.ModelTypesFor(ModelTasks.ImageClassification))}"));
        var classifierOptions = model == "resnet"
            ? new ImageClassifierOptions { Optimizer = "adamw", LearningRate = options.LearningRate ?? 3e-3, WeightDecay = 5e-4, Schedule = options.Schedule ?? "onecycle", LabelSmoothing = options.LabelSmoothing ?? 0 }
            : new ImageClassifierOptions { LearningRate = options.LearningRate ?? 1e-3, Schedule = options.Schedule ?? "cosine", LabelSmoothing = options.LabelSmoothing ?? 0.1 };

        var normalize = new Normalize([FashionMnist.Mean], [FashionMnist.Std]);
        using var all = FashionMnist.Load(train: true, options.DataDir);
        using var test = FashionMnist.Load(train: false, options.DataDir);
        int valSize = options.ValidationSize;
        if (valSize >= all.Count)
            throw new ArgumentException($"--val-size {valSize} leaves no training images: the training set has {all.Count}");
        string validation = valSize > 0 ? $"{valSize} held out for validation" : "no validation";
        int trainCount = all.Count - valSize;
        if (options.LimitTrain is int limit) trainCount = Math.Min(limit, trainCount);
        ITransform trainTransform = augment ? new Compose(new RandomCrop(28, 2), new RandomHorizontalFlip(), normalize) : normalize;
        using var train = new TensorDataset(all.Inputs.narrow(0, 0, trainCount), all.Targets.narrow(0, 0, trainCount), trainTransform);
        // The validation images are the training set's last ones, never the test set: that one only gives the final report.
        using var val = valSize > 0 ? new TensorDataset(all.Inputs.narrow(0, all.Count - valSize, valSize), all.Targets.narrow(0, all.Count - valSize, valSize), normalize) : null;
        test.Transform = normalize;

        var trainLoader = new DataLoader<Batch>(train, new DataLoaderOptions { BatchSize = options.BatchSize, Shuffle = true, Seed = options.Seed });
        var evalOptions = new DataLoaderOptions { BatchSize = 1000 };
        var testLoader = new DataLoader<Batch>(test, evalOptions);
        var valLoader = val is null ? null : new DataLoader<Batch>(val, evalOptions);

        var strategy = options.Strategy ?? SingleProcessStrategy.Instance;
        bool writer = strategy.IsGlobalZero; // one process writes the output folder and reports for all
        if (!writer) log = TextWriter.Null;
        string outDir = writer ? RunOutput.Prepare(options.OutputDir, options.Resume, options.Overwrite) : Path.GetFullPath(options.OutputDir);
        strategy.Group.Barrier(); // the folder is ready (or rank 0 failed and ended the group)
        string checkpoints = Path.Combine(outDir, "checkpoints");
        string? resumeFrom = null;
        if (options.Resume)
        {
            resumeFrom = TrainerCheckpoint.FindResumable(checkpoints)
                ?? throw new FileNotFoundException($"--resume: no complete checkpoint in {checkpoints}", checkpoints);
        }

        using var network = AutoModelForImageClassification.FromConfig(config);
        using var classifier = new ImageClassifier(network, classifierOptions);
        var progress = new ProgressDisplay(options.PlainProgress == true ? true : null, log == Console.Out ? null : log);
        var checkpoint = valLoader is null ? new ModelCheckpoint(checkpoints) : new ModelCheckpoint(checkpoints, monitor: "val_acc", mode: MonitorMode.Max, saveTopK: 1);
        using var csv = writer ? new CsvLogger(Path.Combine(outDir, "metrics.csv"), append: resumeFrom is not null) : null;
        using var events = writer ? new TensorBoardLogger(Path.Combine(outDir, "events")) : null;
        var trainer = new Trainer(new TrainerOptions
        {
            MaxEpochs = options.Epochs,
            Seed = options.Seed,
            Device = options.Device,
            Precision = options.Precision,
            Callbacks = writer ? [checkpoint, new LearningRateMonitor(), progress, .. options.Callbacks] : [checkpoint, .. options.Callbacks],
            Loggers = writer ? [csv!, events!] : [],
            Strategy = strategy,
        });
        string processes = strategy.Group.WorldSize > 1 ? $" per process x {strategy.Group.WorldSize} processes (data-parallel)" : "";
        log.WriteLine($"training {model} on {trainCount} Fashion-MNIST images ({validation}), {options.Epochs} epochs, batch {options.BatchSize}{processes}, device {trainer.Device.type}{(options.Precision != "32-true" ? ", " + options.Precision : "")}{(augment ? ", augmented" : "")}");
        var fitClock = Stopwatch.StartNew();
        trainer.Fit(classifier, trainLoader, valLoader, resumeFrom);
        fitClock.Stop();
        double imagesPerSecond = progress.ExamplesPerSecond * strategy.Group.WorldSize;
        if (!writer) return new FashionMnistTrainingResult { Model = model, Epochs = trainer.CurrentEpoch, ModelDir = Path.Combine(outDir, "model") };

        var accumulator = new ConfusionMatrixAccumulator(FashionMnist.Classes.Length);
        classifier.eval();
        using (no_grad())
            foreach (var batch in testLoader.Epoch(0))
            {
                using var scope = NewDisposeScope();
                using var b = batch.To(trainer.Device);
                accumulator.Update(classifier.Forward(b.Inputs), b.Targets);
            }
        var metrics = accumulator.Compute();

        var preprocessing = new ImagePreprocessingConfig { Mean = [FashionMnist.Mean], Std = [FashionMnist.Std] };
        var result = new FashionMnistTrainingResult
        {
            Model = model,
            TestAccuracy = metrics.Accuracy,
            MacroF1 = metrics.MacroF1,
            ValidationAccuracy = trainer.CallbackMetrics.GetValueOrDefault("val_acc", double.NaN),
            Epochs = trainer.CurrentEpoch,
            TrainSeconds = fitClock.Elapsed.TotalSeconds,
            TotalSeconds = clock.Elapsed.TotalSeconds,
            ImagesPerSecond = imagesPerSecond,
            ModelDir = Path.Combine(outDir, "model"),
            PerClass = metrics,
        };
        network.to(CPU);
        var card = FashionMnistCard.Build(result, options with { Augment = augment }, classifierOptions, trainCount, valSize);
        ModelFolder.Save(result.ModelDir, config, network, preprocessing, FashionMnist.Classes, card);
        return result;
    }
}
