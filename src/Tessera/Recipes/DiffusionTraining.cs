using System.Diagnostics;
using System.Globalization;
using System.Text;
using Tessera.Data;
using Tessera.Diffusion;
using Tessera.Diffusion.Pipelines;
using Tessera.Diffusion.Schedulers;
using Tessera.Formats;
using Tessera.Tasks;
using Tessera.Training;
using Tessera.Training.Callbacks;
using Tessera.Training.Loggers;
using Tessera.Transformers;
using TorchSharp;
using static TorchSharp.torch;

namespace Tessera.Recipes;

/// <summary>
/// A class-conditional DDPM on Fashion-MNIST: images scaled to [-1, 1] (zero-padded with -1 to a multiple of
/// <c>2^(levels - 1)</c> only when the UNet needs it; the default 3-level UNet takes 28x28 as is), a
/// <see cref="DiffusionModule"/> (noise-prediction MSE, uniform timesteps, label dropout for classifier-free guidance,
/// EMA) trained by the <see cref="Trainer"/> with AdamW and warmup-cosine, sample grids every N epochs, and a
/// diffusers pipeline folder of the EMA weights with a model card. What <c>tessera train diffusion fashion-mnist</c> runs.
/// </summary>
public static class DiffusionTraining
{
    /// <summary>Classes of Fashion-MNIST; the UNet's <c>num_class_embeds</c> is one more (the unconditional label is the last).</summary>
    public static int Classes => FashionMnist.Classes.Length;

    /// <summary>
    /// The default UNet (0.69M parameters, 72M multiply-adds per 28x28 image): 3 levels of widths 16, 32, 64, one
    /// ResNet block per level, attention (4 heads of 16) only at the 7x7 level and in the middle block, 8 norm groups,
    /// 11 class embeddings. Chosen so that the default run (3 epochs, batch 64) trains in under 30 minutes on 2 CPU
    /// cores: it costs 0.61x the CPU time per image of <see cref="LargeUNet"/> (2.74M, 4x the multiply-adds; measured).
    /// </summary>
    public static UNet2DConfig DefaultUNet => new()
    {
        SampleSize = FashionMnist.ImageSize, InChannels = 1, OutChannels = 1,
        BlockOutChannels = [16, 32, 64], LayersPerBlock = 1,
        DownBlockTypes = ["DownBlock2D", "DownBlock2D", "AttnDownBlock2D"],
        UpBlockTypes = ["AttnUpBlock2D", "UpBlock2D", "UpBlock2D"],
        AttentionHeadDim = 16, NormNumGroups = 8, NumClassEmbeds = Classes + 1,
    };

    /// <summary>
    /// A larger UNet (2.74M parameters, 288M multiply-adds per image): <see cref="DefaultUNet"/>'s layout at widths
    /// 32, 64, 128 with 16 norm groups and attention heads of 32 (the default before issue 12's time target).
    /// </summary>
    public static UNet2DConfig LargeUNet => DefaultUNet with { BlockOutChannels = [32, 64, 128], AttentionHeadDim = 32, NormNumGroups = 16 };

    /// <summary>A tiny UNet for tests and smoke runs (widths 16, 32; about 0.1M parameters).</summary>
    public static UNet2DConfig TinyUNet => new()
    {
        SampleSize = FashionMnist.ImageSize, InChannels = 1, OutChannels = 1,
        BlockOutChannels = [16, 32], LayersPerBlock = 1,
        DownBlockTypes = ["DownBlock2D", "DownBlock2D"], UpBlockTypes = ["UpBlock2D", "UpBlock2D"],
        AttentionHeadDim = 16, NormNumGroups = 8, NumClassEmbeds = Classes + 1,
    };

    /// <summary>The side a UNet of <paramref name="levels"/> levels needs for 28x28 images: 28 rounded up to a multiple of <c>2^(levels - 1)</c>.</summary>
    public static int PaddedSize(int levels)
    {
        int factor = 1 << (levels - 1);
        return (FashionMnist.ImageSize + factor - 1) / factor * factor;
    }

    /// <summary>The DDPM scheduler a run trains with (and saves).</summary>
    public static IDiffusionScheduler Scheduler(DiffusionTrainingOptions options)
    {
        var config = SchedulerConfig.ForClass("DDPMScheduler");
        config.NumTrainTimesteps = options.NumTrainTimesteps;
        config.BetaSchedule = options.BetaSchedule;
        config.PredictionType = options.PredictionType;
        config.ClipSample = options.ClipSample;
        return Schedulers.Create(config);
    }

    /// <summary>Trains as <paramref name="options"/> says and writes <c>model/</c>; returns the measurements.</summary>
    /// <exception cref="ArgumentException">An option is out of range or the UNet does not fit Fashion-MNIST.</exception>
    public static DiffusionTrainingResult Run(DiffusionTrainingOptions options, TextWriter? log = null)
    {
        log ??= Console.Out;
        Check(options);
        if (options.Threads is int threads) set_num_threads(threads);
        manual_seed(options.Seed);
        var inv = CultureInfo.InvariantCulture;

        UNet2DConfig unetConfig = options.UNet ?? DefaultUNet;
        int size = PaddedSize(unetConfig.BlockOutChannels.Count);
        unetConfig = unetConfig with { SampleSize = size };
        IDiffusionScheduler scheduler = Scheduler(options);

        using var all = FashionMnist.Load(train: true, options.DataDir, options.LimitTrain);
        int trainCount = all.Count;
        using var images = Prepare(all.Inputs, size);
        using var train = new TensorDataset(images, all.Targets);
        var loader = new DataLoader<Batch>(train, new DataLoaderOptions { BatchSize = options.BatchSize, Shuffle = true, Seed = options.Seed });

        var strategy = options.Strategy ?? SingleProcessStrategy.Instance;
        bool writer = strategy.IsGlobalZero; // one process writes the output folder and reports for all
        if (!writer) log = TextWriter.Null;
        string outDir = writer ? RunOutput.Prepare(options.OutputDir, options.Resume, options.Overwrite) : Path.GetFullPath(options.OutputDir);
        strategy.Group.Barrier(); // the folder is ready (or rank 0 failed and ended the group)
        string checkpoints = Path.Combine(outDir, "checkpoints");
        string? resumeFrom = null;
        if (options.Resume)
            resumeFrom = TrainerCheckpoint.FindResumable(checkpoints) ?? throw new FileNotFoundException($"--resume: no complete checkpoint in {checkpoints}", checkpoints);

        long stepsPerEpoch = strategy.Shard(loader).BatchesPerEpoch;
        long totalSteps = Math.Min(stepsPerEpoch * options.Epochs, options.MaxSteps ?? long.MaxValue);
        using var unet = new UNet2DModel(unetConfig);
        long parameters = unet.parameters().Sum(p => p.numel());
        using var module = new DiffusionModule(unet, scheduler, new DiffusionModuleOptions
        {
            LearningRate = options.LearningRate, TotalSteps = totalSteps, WarmupSteps = Math.Max(1, totalSteps / 20),
            LabelDropout = unetConfig.NumClassEmbeds is null ? 0 : options.LabelDropout, EmaDecay = options.EmaDecay,
        });

        var curve = new StepCounter();
        var memory = new MemoryPerEpoch(log);
        var progress = new ProgressDisplay(options.PlainProgress == true ? true : null, log == Console.Out ? null : log);
        var grids = new SampleGrids(module, scheduler, options, Path.Combine(outDir, "samples"), log);
        using var csv = writer ? new CsvLogger(Path.Combine(outDir, "metrics.csv"), append: resumeFrom is not null) : null;
        using var events = writer ? new TensorBoardLogger(Path.Combine(outDir, "events")) : null;
        var checkpoint = new ModelCheckpoint(checkpoints, everyNTrainSteps: options.CheckpointEverySteps); // writes on rank 0 only
        var trainer = new Trainer(new TrainerOptions
        {
            MaxEpochs = options.Epochs,
            MaxSteps = options.MaxSteps,
            Seed = options.Seed,
            Device = options.Device,
            Precision = options.Precision,
            LogEveryNSteps = (int)Math.Clamp(totalSteps / 50, 1, 50),
            // The EMA update must run before the checkpoint of the same step, so it is the first callback. It averages
            // the weights after the step on the all-reduced gradients, so with data parallelism every process's EMA is the same.
            Callbacks = writer
                ? [module.EmaCallback, checkpoint, new LearningRateMonitor(), progress, curve, grids, memory, .. options.Callbacks]
                : [module.EmaCallback, new RankSeed(options.Seed, strategy.Group.Rank), checkpoint, curve, .. options.Callbacks],
            Loggers = writer ? [csv!, events!] : [],
            Strategy = strategy,
        });
        string processes = strategy.Group.WorldSize > 1 ? $" per process x {strategy.Group.WorldSize} processes (data-parallel)" : "";
        log.WriteLine(string.Create(inv, $"training a class-conditional UNet2D ({parameters / 1e6:0.00}M parameters, {size}x{size}{(size != FashionMnist.ImageSize ? " padded" : "")}) on {trainCount} Fashion-MNIST images, " +
            $"{options.Epochs} epochs of {stepsPerEpoch} steps (batch {options.BatchSize}{processes}){(options.MaxSteps is long m ? $", at most {m} steps" : "")}, {scheduler.Config.PredictionType} prediction, device {trainer.Device.type}{(options.Precision != "32-true" ? ", " + options.Precision : "")}"));
        var clock = Stopwatch.StartNew();
        trainer.Fit(module, loader, null, resumeFrom);
        clock.Stop();
        if (strategy is Distributed.DataParallelStrategy { ReplicaChecksum: string checksum } && strategy.Group.WorldSize > 1)
            log.WriteLine($"weights and EMA identical on all {strategy.Group.WorldSize} processes (state sha256 {checksum[..16]})");
        long stepsRun = curve.StepsThisRun;
        double seconds = clock.Elapsed.TotalSeconds;
        if (!writer)
            return new DiffusionTrainingResult
            {
                Parameters = parameters, TrainImages = trainCount, ImageSize = size, Epochs = trainer.CurrentEpoch, Steps = trainer.GlobalStep,
                FirstLoss = double.NaN, FinalLoss = double.NaN, LossCurve = [], TrainSeconds = seconds,
                StepsPerSecond = seconds > 0 ? stepsRun / seconds : 0, ImagesPerSecond = seconds > 0 ? curve.ImagesThisRun * strategy.Group.WorldSize / seconds : 0,
                ModelDir = Path.Combine(outDir, "model"),
            };

        module.to(CPU);
        string modelDir = Path.Combine(outDir, "model");
        var pipeline = new DiffusionPipeline(module.Ema, scheduler);
        pipeline.SavePretrained(modelDir);
        DiffusionOutput grid = SampleGrids.Generate(pipeline, options);
        grid.SaveGrid(Path.Combine(modelDir, "samples.png"), options.SamplesPerClass);

        DiffusionQuality? quality = null;
        if (options.Classifier is string classifier)
        {
            log.WriteLine($"measuring quality with the classifier in {classifier}");
            quality = DiffusionEvaluation.Evaluate(pipeline, classifier, new DiffusionEvaluationOptions
            {
                SamplesPerClass = options.EvalSamplesPerClass, Steps = options.SampleSteps, GuidanceScale = options.GuidanceScale, Seed = options.Seed, DataDir = options.DataDir,
            }, log);
        }

        // The whole run's losses, across --resume: this process's callbacks saw only the steps it trained itself.
        var history = TrainingLossHistory.Read(csv!.FilePath);
        var result = new DiffusionTrainingResult
        {
            Parameters = parameters,
            TrainImages = trainCount,
            ImageSize = size,
            Epochs = trainer.CurrentEpoch,
            Steps = trainer.GlobalStep,
            FirstLoss = history.FirstLoss,
            FinalLoss = history.FinalLoss,
            LossCurve = history.Points,
            TrainSeconds = seconds,
            StepsPerSecond = seconds > 0 ? stepsRun / seconds : 0,
            ImagesPerSecond = seconds > 0 ? curve.ImagesThisRun * strategy.Group.WorldSize / seconds : 0,
            ModelDir = modelDir,
            RssMegabytesPerEpoch = memory.Values,
            Quality = quality,
        };
        AtomicFile.WriteAllText(Path.Combine(modelDir, "README.md"), Card(result, options, unetConfig, scheduler));
        return result;
    }

    static void Check(DiffusionTrainingOptions o)
    {
        if (o.Epochs < 1) throw new ArgumentException($"--epochs must be at least 1 (got {o.Epochs})");
        if (o.MaxSteps is < 1) throw new ArgumentException($"--max-steps must be at least 1 (got {o.MaxSteps})");
        if (o.BatchSize < 1) throw new ArgumentException($"--batch-size must be at least 1 (got {o.BatchSize})");
        if (o.LimitTrain is < 1) throw new ArgumentException($"--limit-train must be at least 1 (got {o.LimitTrain})");
        if (!(o.LearningRate > 0) || !double.IsFinite(o.LearningRate)) throw new ArgumentException($"--lr must be a positive number (got {o.LearningRate})");
        if (o.SampleSteps < 1) throw new ArgumentException($"--sample-steps must be at least 1 (got {o.SampleSteps})");
        if (o.SamplesPerClass < 1) throw new ArgumentException($"--samples-per-class must be at least 1 (got {o.SamplesPerClass})");
        if (o.SampleEveryEpochs < 0) throw new ArgumentException($"--sample-every must not be negative (got {o.SampleEveryEpochs})");
        if (o.PredictionType is not ("epsilon" or "v_prediction" or "sample")) throw new ArgumentException($"--prediction-type '{o.PredictionType}': expected epsilon, v_prediction or sample");
        if (o.UNet is { } u)
        {
            if (u.InChannels != 1 || u.OutChannels != 1) throw new ArgumentException($"the UNet must have in_channels and out_channels 1 for grayscale Fashion-MNIST (got {u.InChannels}, {u.OutChannels})");
            if (u.ClassEmbedType is not null || (u.NumClassEmbeds is int n && n != Classes + 1))
                throw new ArgumentException($"the UNet's num_class_embeds must be {Classes + 1} ({Classes} classes + the unconditional label) or null, with no class_embed_type (got {u.NumClassEmbeds}, {u.ClassEmbedType})");
        }
    }

    /// <summary>[N, 1, 28, 28] in [0, 1] -> [N, 1, size, size] in [-1, 1], padded with -1 (black) on all sides.</summary>
    static Tensor Prepare(Tensor unit, int size)
    {
        using var scope = NewDisposeScope();
        Tensor x = unit * 2 - 1;
        int pad = size - FashionMnist.ImageSize;
        if (pad > 0) x = nn.functional.pad(x, [pad / 2, pad - pad / 2, pad / 2, pad - pad / 2], value: -1);
        return x.contiguous().MoveToOuterDisposeScope();
    }

    static string Card(DiffusionTrainingResult r, DiffusionTrainingOptions o, UNet2DConfig unet, IDiffusionScheduler scheduler)
    {
        var inv = CultureInfo.InvariantCulture;
        var front = new OrderedDictionary<string, object?>
        {
            ["library_name"] = "diffusers",
            ["pipeline_tag"] = "unconditional-image-generation",
            ["tags"] = new List<object?> { "diffusion", "ddpm", "class-conditional", "fashion-mnist", "tessera" },
            ["datasets"] = new List<object?> { "fashion_mnist" },
        };
        // The Hub's model-index, when quality was measured. The Hub has no class-conditional generation task, so the
        // task type is the pipeline_tag's unconditional-image-generation (the UNet also samples with the unconditional
        // label); the task name says the samples were class-conditional. The Fréchet distance is over the classifier's
        // features, not Inception's, so its type is frechet_distance rather than fid.
        if (r.Quality is { } quality)
            front["model-index"] = ModelIndex.Build("ddpm-fashion-mnist",
                new ModelIndexResult("unconditional-image-generation", "Class-conditional image generation", "fashion_mnist", "Fashion-MNIST",
                [
                    new ModelIndexMetric("class_agreement", quality.MeanClassAgreement, "Class agreement (mean over 10 classes)"),
                    new ModelIndexMetric("frechet_distance", quality.FrechetDistance,
                        $"Fréchet distance ({quality.FeatureLayer} features, {quality.GeneratedImages} generated vs {quality.RealImages} real test)"),
                ]) { Split = "test" });
        var card = new StringBuilder(ModelIndex.RenderFrontMatter(front));
        card.AppendLine("# Class-conditional DDPM trained on Fashion-MNIST with Tessera");
        card.AppendLine();
        card.AppendLine(inv, $"A diffusers `UNet2DModel` ({r.Parameters / 1e6:0.00}M parameters, widths {string.Join("/", unet.BlockOutChannels)}, {r.ImageSize}x{r.ImageSize} grayscale) with a `{scheduler.Config.ClassName}` " +
            $"({scheduler.Config.NumTrainTimesteps} steps, `{scheduler.Config.BetaSchedule}` betas, `{scheduler.Config.PredictionType}` prediction), trained from scratch with Tessera's Trainer. " +
            $"The weights are the exponential moving average (decay {o.EmaDecay}). Class ids are Fashion-MNIST's 0-9 ({string.Join(", ", FashionMnist.Classes)}); " +
            $"label {Classes} is the unconditional label (trained with probability {o.LabelDropout}), used for classifier-free guidance.");
        card.AppendLine();
        card.AppendLine("Sample it with `tessera sample <this folder> --class 7 --num 16 --scheduler ddim --steps 50 --guidance-scale 2`, or load it with diffusers' `DDPMPipeline` + the UNet's `class_labels`.");
        card.AppendLine();
        card.AppendLine("![samples, one row per class](samples.png)");
        card.AppendLine();
        card.AppendLine(inv, $"Samples: one row per class (0-9 top to bottom), DDIM {o.SampleSteps} steps, guidance scale {o.GuidanceScale}, seed {o.Seed}.");
        card.AppendLine();
        card.AppendLine("| | |");
        card.AppendLine("|---|---|");
        card.AppendLine(inv, $"| training images | {r.TrainImages} (scaled to [-1, 1]{(r.ImageSize != FashionMnist.ImageSize ? $", padded with -1 to {r.ImageSize}x{r.ImageSize}" : "")}) |");
        string processes = o.Strategy is { Group.WorldSize: > 1 } ddp ? $" per process x {ddp.Group.WorldSize} processes, data-parallel" : "";
        card.AppendLine(inv, $"| epochs / steps | {r.Epochs} / {r.Steps} (batch {o.BatchSize}{processes}) |");
        card.AppendLine(inv, $"| optimizer | AdamW, peak LR {o.LearningRate}, 5% warmup then cosine to 0 |");
        card.AppendLine(inv, $"| training loss | {r.FirstLoss:0.0000} (first logged steps) -> {r.FinalLoss:0.0000} (last) |");
        card.AppendLine(inv, $"| training time | {r.TrainSeconds:0} s ({r.ImagesPerSecond:0} images/s, {o.Device}) |");
        if (r.RssMegabytesPerEpoch.Count > 0)
            card.AppendLine(inv, $"| resident memory (RSS) | {r.RssMegabytesPerEpoch[0]:0} MB after the first epoch of the run, {r.RssMegabytesPerEpoch[^1]:0} MB after the last |");
        card.AppendLine(inv, $"| seed | {o.Seed} |");
        if (r.Quality is { } q)
        {
            card.AppendLine();
            card.AppendLine("## Quality");
            card.AppendLine();
            card.AppendLine(inv, $"Measured with the Fashion-MNIST classifier `{o.Classifier}` ({q.Sampling}); {q.GeneratedImages} generated images, {q.RealImages} real test images. Features: {q.FeatureLayer}, {q.FeatureDim} dimensions.");
            card.AppendLine();
            card.AppendLine("| metric | value |");
            card.AppendLine("|---|---:|");
            card.AppendLine(inv, $"| class agreement (mean over 10 classes) | {q.MeanClassAgreement:0.000} |");
            card.AppendLine(inv, $"| Fréchet distance, {q.GeneratedImages} generated vs {q.RealImages} real test | {q.FrechetDistance:0.000} |");
            card.AppendLine(inv, $"| Fréchet floor at the generated count: {q.GeneratedImages} real train (class-balanced) vs real test (compare with the distance above) | {q.FrechetFloorAtGeneratedCount:0.000} |");
            card.AppendLine(inv, $"| Fréchet floor, {q.RealImages} real train vs {q.RealImages} real test | {q.FrechetFloor:0.000} |");
            for (int k = 0; k < q.ClassAgreement.Count; k++) card.AppendLine(inv, $"| agreement, {FashionMnist.Classes[k]} | {q.ClassAgreement[k]:0.00} |");
        }
        card.AppendLine();
        card.AppendLine("## Loss curve");
        card.AppendLine();
        card.AppendLine("| step | training loss |");
        card.AppendLine("|---:|---:|");
        int every = Math.Max(1, r.LossCurve.Count / 12);
        for (int i = 0; i < r.LossCurve.Count; i++)
            if (i % every == 0 || i == r.LossCurve.Count - 1) card.AppendLine(inv, $"| {r.LossCurve[i].Step} | {r.LossCurve[i].Loss:0.0000} |");
        return card.ToString();
    }

    /// <summary>
    /// Gives a data-parallel process other than rank 0 its own random stream for timesteps, noise and label dropout
    /// (otherwise every process would draw the same ones for its different images). Rank 0 keeps the trainer's seeded
    /// and checkpointed generator, so a one-process run is unchanged; rank r reseeds with seed + 1000003 r + step at
    /// the start of each fit, so after --resume it continues on a fresh stream of its own (only rank 0's is checkpointed).
    /// </summary>
    sealed class RankSeed(int seed, int rank) : Callback
    {
        public override void OnFitStart(Trainer trainer, TrainingModuleBase module) => manual_seed(seed + 1_000_003L * rank + trainer.GlobalStep);
    }

    /// <summary>Counts this invocation's steps and images (for throughput; the loss history is read from metrics.csv).</summary>
    sealed class StepCounter : Callback
    {
        public long StepsThisRun { get; private set; }
        public long ImagesThisRun { get; private set; }

        public override void OnTrainBatchEnd(Trainer trainer, TrainingModuleBase module, double loss, int batchIndex, long batchSize)
        {
            StepsThisRun++;
            ImagesThisRun += batchSize;
        }
    }

    /// <summary>Records (and logs) the process's resident memory at each epoch end, to show that a run's memory stays flat.</summary>
    sealed class MemoryPerEpoch(TextWriter log) : Callback
    {
        public List<double> Values { get; } = [];

        public override void OnTrainEpochEnd(Trainer trainer, TrainingModuleBase module)
        {
            double mb = Environment.WorkingSet / (1024.0 * 1024.0);
            Values.Add(mb);
            log.WriteLine(string.Create(CultureInfo.InvariantCulture, $"epoch {trainer.CurrentEpoch + 1}: RSS {mb:0} MB"));
        }
    }

    /// <summary>Writes samples/epoch-N.png (one row per class, from the EMA weights) every N epochs.</summary>
    sealed class SampleGrids(DiffusionModule module, IDiffusionScheduler scheduler, DiffusionTrainingOptions options, string folder, TextWriter log) : Callback
    {
        public static DiffusionOutput Generate(DiffusionPipeline pipeline, DiffusionTrainingOptions options)
        {
            bool conditional = pipeline.UNet.Config.NumClassEmbeds is not null;
            int count = (conditional ? Classes : 1) * options.SamplesPerClass;
            IDiffusionScheduler original = pipeline.Scheduler;
            pipeline.Scheduler = Schedulers.Create("ddim", original.Config);
            try
            {
                return pipeline.Generate(new SamplingOptions
                {
                    NumImages = count, NumInferenceSteps = options.SampleSteps, Seed = options.Seed,
                    ClassLabels = conditional ? Enumerable.Range(0, count).Select(i => (long)(i / options.SamplesPerClass)).ToArray() : null,
                    GuidanceScale = conditional ? options.GuidanceScale : 1.0,
                });
            }
            finally { pipeline.Scheduler = original; }
        }

        public override void OnTrainEpochEnd(Trainer trainer, TrainingModuleBase m)
        {
            int epoch = trainer.CurrentEpoch + 1;
            if (options.SampleEveryEpochs == 0 || epoch % options.SampleEveryEpochs != 0 || trainer.BatchIndex < trainer.TrainBatchesPerEpoch) return;
            // Sampling draws from its own seeded noise sources, not libtorch's generator, so it does not change the run.
            var pipeline = new DiffusionPipeline(module.Ema, scheduler);
            var clock = Stopwatch.StartNew();
            DiffusionOutput output = Generate(pipeline, options);
            Directory.CreateDirectory(folder);
            string path = Path.Combine(folder, $"epoch-{epoch}.png");
            output.SaveGrid(path, options.SamplesPerClass);
            log.WriteLine($"epoch {epoch}: samples in {path} ({clock.Elapsed.TotalSeconds:0.0}s)");
        }
    }
}
