using System.Diagnostics;
using System.Globalization;
using Tessera.Adapters;
using Tessera.Data;
using Tessera.Diffusion;
using Tessera.Recipes;
using Tessera.Models;
using Tessera.Tasks;
using Tessera.Training;
using Tessera.Training.Precision;
using Tessera.Transformers;
using static TorchSharp.torch;
using static Tessera.Bench.BenchStats;

namespace Tessera.Bench;

/// Issue 15 part 4: the Trainer with Precision = "bf16-mixed" vs "32-true", side by side in one process. For cnn and
/// resnet (Fashion-MNIST images/s), GPT-2-tiny (train lm's shape: 4x128, byte vocabulary, 32x128 tokens, tokens/s), the same
/// with LoRA, and the diffusion recipe's default UNet,
/// each round runs both precisions back to back, alternating which goes first, and records the load average around
/// each measurement. Then, per model, the cost of the plugin's per-step copies (bf16 gradients into the fp32 masters,
/// masters back into the bf16 copies): fused (one op over the flat buffers) vs parameter by parameter.
static class Bf16TrainBench
{
    public sealed record Measure(string Model, string Precision, int Round, double PerSecond, string Load);
    public sealed record CopyCost(string Model, int Parameters, double FusedMs, double PerTensorMs);

    sealed record Case(string Name, string Unit, int Batch, int Steps, Func<TrainingModule> Make, Func<IDataLoader<Batch>> Data, long UnitsPerExample);

    public static object Run(int threads, int rounds, int warmup, double stepScale, string? models = null)
    {
        set_num_threads(threads);
        using var data = FashionMnist.Load(train: true);
        using var images = ((data.Inputs - FashionMnist.Mean) / FashionMnist.Std).contiguous();
        using var imageSet = new TensorDataset(images, data.Targets);
        using var unit = (data.Inputs * 2 - 1).contiguous();
        using var unitSet = new TensorDataset(unit, data.Targets);
        var rng = new Random(0);
        using var tokenSet = new TokenBlockDataset(Enumerable.Range(0, 512 * 128 + 1).Select(_ => (long)rng.Next(257)).ToArray(), 128);
        var gpt2 = new Gpt2Config { VocabSize = 257, NPositions = 128, NEmbd = 128, NLayer = 4, NHead = 4 };
        int Steps(int n) => Math.Max(2, (int)Math.Round(n * stepScale));
        Case[] cases =
        [
            new("cnn", "images/s", 128, Steps(30), () => new ImageClassifier(new Cnn(new CnnConfig())),
                () => new DataLoader<Batch>(imageSet, new DataLoaderOptions { BatchSize = 128, Shuffle = true, Seed = 1 }), 1),
            new("resnet", "images/s", 64, Steps(8), () => new ImageClassifier(new ResNet(new ResNetConfig())),
                () => new DataLoader<Batch>(imageSet, new DataLoaderOptions { BatchSize = 64, Shuffle = true, Seed = 1 }), 1),
            new("gpt2-tiny", "tokens/s", 32, Steps(12), () => new CausalLMModule(new Gpt2LMHeadModel(gpt2), 1e-3, 1000, 10),
                () => new DataLoader<Batch>(tokenSet, new DataLoaderOptions { BatchSize = 32, Shuffle = true, Seed = 1 }), 128),
            // LoRA r=8 on c_attn of the same GPT-2-tiny: the frozen base computes in bf16 too.
            new("gpt2-tiny-lora", "tokens/s", 32, Steps(12), () =>
                {
                    var model = new Gpt2LMHeadModel(gpt2);
                    LoraModel.Wrap(model, new LoraConfig(8, 16, ["c_attn"]));
                    return new CausalLMModule(model, 1e-3, 1000, 10);
                },
                () => new DataLoader<Batch>(tokenSet, new DataLoaderOptions { BatchSize = 32, Shuffle = true, Seed = 1 }), 128),
            // The diffusion recipe's default UNet (0.69M parameters, 28x28) and batch; images as the recipe scales them.
            new("unet", "images/s", 64, Steps(6), () => new DiffusionModule(new UNet2DModel(DiffusionTraining.DefaultUNet with { SampleSize = 28 }),
                    DiffusionTraining.Scheduler(new DiffusionTrainingOptions()), new DiffusionModuleOptions()),
                () => new DataLoader<Batch>(unitSet, new DataLoaderOptions { BatchSize = 64, Shuffle = true, Seed = 1 }), 1),
        ];

        if (models is not null) cases = cases.Where(c => models.Split(',').Contains(c.Name)).ToArray();
        var measures = new List<Measure>();
        for (int r = 0; r < rounds; r++)
        {
            foreach (var c in cases)
            {
                string[] order = r % 2 == 0 ? ["32-true", "bf16-mixed"] : ["bf16-mixed", "32-true"];
                foreach (string precision in order)
                {
                    string before = LoadAverage();
                    double rate = Throughput(c, precision, warmup);
                    var m = new Measure(c.Name, precision, r + 1, rate, $"{before} -> {LoadAverage()}");
                    measures.Add(m);
                    Console.WriteLine($"round {r + 1} {c.Name,-10} {precision,-10} {rate,10:0} {c.Unit}  load {m.Load}");
                }
            }
        }

        var copies = cases.Select(c => Copies(c)).ToList();

        Console.WriteLine();
        Console.WriteLine($"| model (batch) | fp32 | bf16-mixed | bf16-mixed / fp32 (median of {rounds} rounds; per round) |");
        Console.WriteLine("|---|---|---|---|");
        var summary = new List<object>();
        foreach (var c in cases)
        {
            var f = measures.Where(m => m.Model == c.Name && m.Precision == "32-true").OrderBy(m => m.Round).Select(m => m.PerSecond).ToList();
            var b = measures.Where(m => m.Model == c.Name && m.Precision == "bf16-mixed").OrderBy(m => m.Round).Select(m => m.PerSecond).ToList();
            var perRound = f.Zip(b, (x, y) => y / x).ToList();
            double ratio = Median(perRound);
            Console.WriteLine($"| {c.Name} ({c.Batch}) | {Median(f):0} {c.Unit} | {Median(b):0} {c.Unit} | {ratio:0.00}x ({string.Join(", ", perRound.Select(x => x.ToString("0.00", CultureInfo.InvariantCulture)))}) |");
            summary.Add(new { model = c.Name, unit = c.Unit, batch = c.Batch, steps = c.Steps, fp32 = Median(f), bf16_mixed = Median(b), ratio, per_round = perRound });
        }
        Console.WriteLine();
        Console.WriteLine("| model | converted parameters | copies per step, fused | per parameter |");
        Console.WriteLine("|---|---|---|---|");
        foreach (var c in copies) Console.WriteLine($"| {c.Model} | {c.Parameters} | {c.FusedMs:0.00} ms | {c.PerTensorMs:0.00} ms |");
        return new { threads, rounds, warmup, summary, measures, copies };
    }

    static double Throughput(Case c, string precision, int warmup)
    {
        manual_seed(0);
        using var module = c.Make();
        var timer = new StepTimer(warmup);
        new Trainer(new TrainerOptions { MaxEpochs = 1, LimitTrainBatches = warmup + c.Steps, Precision = precision, Callbacks = [timer] }).Fit(module, c.Data());
        return c.Steps * c.Batch * c.UnitsPerExample / timer.Elapsed.TotalSeconds;
    }

    // The plugin's own per-step work on the model, timed alone: AfterBackward (gradients into the masters) and
    // AfterOptimizerStep (masters into the bf16 copies), each over 20 repetitions.
    static CopyCost Copies(Case c)
    {
        double Time(bool fused, out int count)
        {
            using var module = c.Make();
            var plugin = new Bf16MixedPrecision(fused);
            plugin.Connect(module);
            count = plugin.ConvertedParameters;
            for (int i = 0; i < 3; i++) { plugin.AfterBackward(); plugin.AfterOptimizerStep(); }
            var clock = Stopwatch.StartNew();
            for (int i = 0; i < 20; i++) { plugin.AfterBackward(); plugin.AfterOptimizerStep(); }
            double ms = clock.Elapsed.TotalMilliseconds / 20;
            plugin.Disconnect(module);
            return ms;
        }
        double fused = Time(true, out int n);
        double perTensor = Time(false, out _);
        Console.WriteLine($"copies {c.Name,-10} {n} parameters: fused {fused:0.00} ms, per parameter {perTensor:0.00} ms per step");
        return new CopyCost(c.Name, n, fused, perTensor);
    }

    static string LoadAverage() => string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(1));

    sealed class StepTimer(int warmup) : Callback
    {
        readonly Stopwatch clock = new();
        public TimeSpan Elapsed => clock.Elapsed;
        public override void OnTrainBatchStart(Trainer trainer, TrainingModuleBase module, int batchIndex)
        {
            if (batchIndex == warmup) clock.Start();
        }
        // Stopped at the last batch, before Fit hands the weights back in fp32.
        public override void OnTrainBatchEnd(Trainer trainer, TrainingModuleBase module, double loss, int batchIndex, long batchSize)
        {
            if (batchIndex + 1 == trainer.TrainBatchesPerEpoch) clock.Stop();
        }
    }
}
