using System.CommandLine;
using System.Globalization;
using Tessera.Recipes;

namespace Tessera.Cli;

static class TrainDiffusionCommand
{
    public static Command Create()
    {
        var d = new DiffusionTrainingOptions();
        var dataset = new Argument<string>("dataset") { Description = "Dataset to train on (fashion-mnist)" };
        dataset.AcceptOnlyFromAmong("fashion-mnist");
        var epochs = new Option<int>("--epochs") { Description = "Training epochs", DefaultValueFactory = _ => d.Epochs }.AtLeast(1);
        var maxSteps = new Option<long?>("--max-steps") { Description = "Stop after N optimizer steps [default: all epochs]" };
        var batch = new Option<int>("--batch-size") { Description = "Batch size", DefaultValueFactory = _ => d.BatchSize }.AtLeast(1);
        var lr = new Option<double>("--lr") { Description = "Peak learning rate (AdamW, 5% warmup, cosine to 0)", DefaultValueFactory = _ => d.LearningRate }.PositiveFinite();
        var unet = new Option<string>("--unet") { Description = "UNet size: default (0.69M parameters, widths 16/32/64), large (2.74M, widths 32/64/128), tiny (widths 16/32), or a UNet config.json", DefaultValueFactory = _ => "default" };
        var prediction = new Option<string>("--prediction-type") { Description = "What the UNet predicts", DefaultValueFactory = _ => d.PredictionType };
        prediction.AcceptOnlyFromAmong("epsilon", "v_prediction", "sample");
        var betas = new Option<string>("--beta-schedule") { Description = "Noise schedule", DefaultValueFactory = _ => d.BetaSchedule };
        betas.AcceptOnlyFromAmong("squaredcos_cap_v2", "linear", "scaled_linear");
        var dropout = new Option<double>("--label-dropout") { Description = "Probability of the unconditional label in training (for --guidance-scale at sampling)", DefaultValueFactory = _ => d.LabelDropout }.Fraction();
        var ema = new Option<double>("--ema-decay") { Description = "EMA decay of the saved weights", DefaultValueFactory = _ => d.EmaDecay }.Fraction();
        var sampleEvery = new Option<int>("--sample-every") { Description = "Write samples/epoch-N.png every N epochs (0: never)", DefaultValueFactory = _ => d.SampleEveryEpochs }.AtLeast(0);
        var sampleSteps = new Option<int>("--sample-steps") { Description = "DDIM steps of the sample grids (and the card's metrics)", DefaultValueFactory = _ => d.SampleSteps }.AtLeast(1);
        var guidance = new Option<double>("--guidance-scale") { Description = "Classifier-free guidance of the sample grids and metrics", DefaultValueFactory = _ => d.GuidanceScale }.PositiveFinite();
        var classifier = new Option<string?>("--classifier") { Description = "A Fashion-MNIST classifier folder (tessera train fashion-mnist): adds class agreement and the Fréchet distance to the card" };
        var checkpointEvery = new Option<int?>("--checkpoint-every") { Description = "Also checkpoint every N steps [default: at epoch ends]" }.AtLeast(1);
        var seed = new Option<int>("--seed") { Description = "Random seed", DefaultValueFactory = _ => d.Seed };
        var output = new Option<string>("--out") { Description = "Output folder (model/, samples/, checkpoints/, metrics.csv, events/)", DefaultValueFactory = _ => d.OutputDir };
        var limit = new Option<int?>("--limit-train") { Description = "Train on the first N training images only" }.AtLeast(1);
        var resume = new Option<bool>("--resume") { Description = "Continue from <out>/checkpoints/last" };
        var overwrite = new Option<bool>("--overwrite") { Description = "Replace the run already in --out" };
        var device = new Option<string>("--device") { Description = "cpu, cuda, cuda:N or auto", DefaultValueFactory = _ => d.Device };
        var dataDir = new Option<string?>("--data-dir") { Description = "Folder with the IDX files [default: /usr/share/datasets/fashion-mnist]" };
        var threads = new Option<int?>("--threads") { Description = "libtorch threads [default: all cores]" }.AtLeast(1);
        var strategy = StrategyOption.Create();
        var precision = PrecisionOption.Create();
        var command = new Command("diffusion", "Train a class-conditional diffusion model (DDPM, UNet2D) and write a diffusers pipeline folder with a model card")
        {
            dataset, epochs, maxSteps, batch, lr, unet, prediction, betas, dropout, ema, sampleEvery, sampleSteps, guidance, classifier,
            checkpointEvery, seed, output, limit, resume, overwrite, device, dataDir, threads, strategy, precision,
        };
        command.SetAction(parse => StrategyOption.Run(parse.GetValue(strategy)!, chosen =>
        {
            if (parse.GetValue(maxSteps) is < 1) throw new UsageException("--max-steps must be at least 1");
            var writer = chosen.IsGlobalZero ? parse.InvocationConfiguration.Output : TextWriter.Null;
            string unetName = parse.GetValue(unet)!;
            var result = DiffusionTraining.Run(new DiffusionTrainingOptions
            {
                Epochs = parse.GetValue(epochs),
                MaxSteps = parse.GetValue(maxSteps),
                BatchSize = parse.GetValue(batch),
                LearningRate = parse.GetValue(lr),
                UNet = unetName switch
                {
                    "default" => DiffusionTraining.DefaultUNet,
                    "tiny" => DiffusionTraining.TinyUNet,
                    "large" => DiffusionTraining.LargeUNet,
                    _ => Transformers.PretrainedConfig.Load<Diffusion.UNet2DConfig>(Directory.Exists(unetName) ? Path.Combine(unetName, "config.json") : unetName),
                },
                PredictionType = parse.GetValue(prediction)!,
                BetaSchedule = parse.GetValue(betas)!,
                LabelDropout = parse.GetValue(dropout),
                EmaDecay = parse.GetValue(ema),
                SampleEveryEpochs = parse.GetValue(sampleEvery),
                SampleSteps = parse.GetValue(sampleSteps),
                GuidanceScale = parse.GetValue(guidance),
                Classifier = parse.GetValue(classifier),
                CheckpointEverySteps = parse.GetValue(checkpointEvery),
                Seed = parse.GetValue(seed),
                OutputDir = parse.GetValue(output)!,
                LimitTrain = parse.GetValue(limit),
                Resume = parse.GetValue(resume),
                Overwrite = parse.GetValue(overwrite),
                Device = parse.GetValue(device)!,
                DataDir = parse.GetValue(dataDir),
                Threads = parse.GetValue(threads),
                Precision = parse.GetValue(precision)!,
                PlainProgress = true,
                Strategy = chosen,
            }, writer);
            var inv = CultureInfo.InvariantCulture;
            writer.WriteLine(string.Create(inv, $"loss {result.FirstLoss:0.0000} -> {result.FinalLoss:0.0000}, {result.Steps} steps in {result.TrainSeconds:0.0}s ({result.StepsPerSecond:0.00} steps/s, {result.ImagesPerSecond:0} images/s)"));
            if (result.Quality is { } q) DiffusionEvalCommand.Print(q, writer);
            writer.WriteLine(result.ModelDir);
            return 0;
        }));
        return command;
    }
}
