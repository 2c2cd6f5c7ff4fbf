using Tessera.Checkpoints;
using Tessera.Data;
using Tessera.Models;
using Tessera.Tasks;
using Tessera.Tests.Shared;
using Tessera.Training;
using Tessera.Training.Callbacks;
using TorchSharp;
using static TorchSharp.torch;

namespace Tessera.Tests.Training.Precision;

/// <summary><see cref="TrainerOptions.Precision"/> = bf16-mixed on a tiny cnn, against the same run in fp32.</summary>
public class Bf16MixedPrecisionTests : IDisposable
{
    private readonly TempDirectory temp = new("tessera-bf16-");
    public void Dispose() => temp.Dispose();

    private static TrainerOptions Options(string precision, int epochs = 3) =>
        new() { MaxEpochs = epochs, Seed = 11, Threads = 1, Precision = precision };

    // A tiny cnn (8x8 single-channel images, 3 classes): conv and linear layers, which bf16-mixed converts. SGD rather
    // than Adam: Adam moves every weight by about the learning rate whatever its gradient's size, so gradients of
    // nearly zero that round differently in bf16 would move weights apart by whole steps; SGD's updates are
    // proportional to the gradients, which makes the weight comparison below meaningful.
    private static ImageClassifierOptions Sgd => new() { Optimizer = "sgd", LearningRate = 0.1 };

    private static ImageClassifier TinyCnn()
    {
        manual_seed(3);
        return new ImageClassifier(new Cnn(new CnnConfig { ImageSize = 8, Hidden = 16, NumClasses = 3 }), Sgd);
    }

    [Fact]
    public void Bf16_mixed_trains_in_bf16_lowers_the_loss_and_stays_close_to_fp32()
    {
        var fp32Losses = new List<double>();
        using var fp32 = TinyCnn();
        new Trainer(Options("32-true") with { Callbacks = [new Recorder(fp32Losses, null)] }).Fit(fp32, new ImageLoader(96, 16));

        var bf16Losses = new List<double>();
        var dtypes = new List<(ScalarType Layer, ScalarType Reported)>();
        using var bf16 = TinyCnn();
        new Trainer(Options("bf16-mixed") with { Callbacks = [new Recorder(bf16Losses, dtypes)] }).Fit(bf16, new ImageLoader(96, 16));

        // While Fit ran, the conv layer computed with bf16 weights and the module reported fp32 masters.
        Assert.All(dtypes, d => Assert.Equal((ScalarType.BFloat16, ScalarType.Float32), d));
        // Afterwards every parameter is fp32 again.
        Assert.All(bf16.Model.parameters(), p => Assert.Equal(ScalarType.Float32, p.dtype));

        Assert.Equal(18, bf16Losses.Count);
        Assert.True(bf16Losses.TakeLast(3).Average() < 0.8 * bf16Losses[0], $"loss did not fall: {string.Join(", ", bf16Losses)}");
        // bf16 keeps 8 significant bits (relative rounding 2^-9 = 0.2% per value), so each step's gradient differs from
        // fp32's by a fraction of a percent and the runs drift apart slowly (measured on this data with Adam: per-step
        // losses within 0.012 of fp32's). The bands below (0.03 + 3% of the loss per step, 10% relative L2 per weight
        // tensor) hold that drift with room, while a stale working copy (updates not copied back) keeps the loss near its
        // start and a wrong or lost gradient sends the curve elsewhere.
        for (int i = 0; i < fp32Losses.Count; i++)
            Assert.True(Math.Abs(bf16Losses[i] - fp32Losses[i]) <= 0.03 + 0.03 * fp32Losses[i], $"step {i}: {Curves(bf16Losses, fp32Losses, fp32, bf16)}");
        foreach (var (name, w) in fp32.state_dict())
        {
            double rel = (bf16.state_dict()[name] - w).norm().ToDouble() / w.norm().ToDouble();
            Assert.True(rel < 0.10, $"{name}: {Curves(bf16Losses, fp32Losses, fp32, bf16)}");
        }
    }

    // A layer that owns a parameter itself and holds a LayerNorm: converting it would convert the norm too.
    private sealed class ScaledNorm : nn.Module<Tensor, Tensor>
    {
        private readonly TorchSharp.Modules.Parameter scale = nn.Parameter(ones(64));
        private readonly TorchSharp.Modules.LayerNorm norm = nn.LayerNorm(64);
        public ScaledNorm() : base("scaled_norm") => RegisterComponents();
        public override Tensor forward(Tensor x) => norm.forward(x.flatten(1)) * scale;
    }

    [Fact]
    public void A_layer_with_its_own_weights_and_a_norm_inside_is_refused_by_name()
    {
        var model = nn.Sequential(("body", new ScaledNorm()), ("head", nn.Linear(64, 3)));
        using var module = new ImageClassifier(model, Sgd);
        var e = Assert.Throws<NotSupportedException>(() => new Trainer(Options("bf16-mixed", epochs: 1)).Fit(module, new ImageLoader(32, 16)));
        Assert.Contains("'scaled_norm'", e.Message);
        Assert.Contains("32-true", e.Message);
    }

    private static string Curves(List<double> bf16, List<double> fp32, nn.Module a, nn.Module b) =>
        $"bf16 [{string.Join(", ", bf16.Select(x => x.ToString("0.0000")))}] fp32 [{string.Join(", ", fp32.Select(x => x.ToString("0.0000")))}] weights {string.Join(", ", Rel(a, b))}";

    private static IEnumerable<string> Rel(nn.Module a, nn.Module b)
    {
        var x = a.state_dict();
        var y = b.state_dict();
        return x.Select(kv => $"{kv.Key} {(y[kv.Key] - kv.Value).norm().ToDouble() / kv.Value.norm().ToDouble():0.0000}");
    }

    [Fact]
    public void Checkpoint_of_a_bf16_mixed_run_holds_fp32_and_resume_continues_the_same_run()
    {
        var train = new ImageLoader(64, 16);
        using var straight = TinyCnn();
        new Trainer(Options("bf16-mixed")).Fit(straight, train);

        using var first = TinyCnn();
        string ckptDir = Path.Combine(temp.Path, "ckpt");
        var trainer1 = new Trainer(Options("bf16-mixed") with { Callbacks = [new ModelCheckpoint(ckptDir, saveTopK: 0, everyNTrainSteps: 3), new KillAtStep(7)] });
        Assert.Throws<SimulatedCrash>(() => trainer1.Fit(first, train));
        string last = Path.Combine(ckptDir, "last");
        using (var scope = NewDisposeScope())
        {
            var saved = SafeTensorsTorch.Load(Path.Combine(last, TrainerCheckpoint.WeightsFile));
            Assert.Equal(8, saved.Count);
            Assert.All(saved.Values, t => Assert.Equal(ScalarType.Float32, t.dtype));
        }
        // The failed Fit handed the module back in fp32 too.
        Assert.All(first.Model.parameters(), p => Assert.Equal(ScalarType.Float32, p.dtype));

        manual_seed(99);
        using var resumed = new ImageClassifier(new Cnn(new CnnConfig { ImageSize = 8, Hidden = 16, NumClasses = 3 }), Sgd);
        var trainer2 = new Trainer(Options("bf16-mixed"));
        trainer2.Fit(resumed, train, checkpointPath: last);
        Assert.Equal(12, trainer2.GlobalStep);
        // Masters, optimizer state and RNG come back exactly and the working copies are rebuilt from the masters, so the
        // resumed run is the uninterrupted one (same kernels, one thread).
        var expected = straight.state_dict();
        foreach (var (name, w) in resumed.state_dict())
            Assert.True(w.allclose(expected[name], rtol: 0, atol: 1e-6), name);
    }

    [Fact]
    public void Unknown_precision_is_refused_in_one_line()
    {
        var e = Assert.Throws<ArgumentException>(() => new Trainer(new TrainerOptions { Precision = "fp16" }));
        Assert.Equal("unknown precision 'fp16': expected 32-true or bf16-mixed", e.Message);
    }

    [Fact]
    public void An_optimizer_over_a_submodules_bf16_copies_is_refused()
    {
        using var module = new SubmoduleOptimizer();
        var e = Assert.Throws<InvalidOperationException>(() => new Trainer(Options("bf16-mixed")).Fit(module, new ImageLoader(16, 16)));
        Assert.Contains("bf16 working copy", e.Message);
        Assert.All(module.parameters(), p => Assert.Equal(ScalarType.Float32, p.dtype));
    }

    private sealed class SubmoduleOptimizer : TrainingModule
    {
        private readonly Cnn model = new(new CnnConfig { ImageSize = 8, Hidden = 4, NumClasses = 3 });
        public SubmoduleOptimizer() : base(nameof(SubmoduleOptimizer)) => RegisterComponents();
        public override Tensor TrainingStep(Batch batch, int batchIndex) => nn.functional.cross_entropy(model.call(batch.Inputs), batch.Targets);
        public override OptimizerConfig ConfigureOptimizers() => new(optim.SGD(model.parameters(), 0.1));
    }

    private sealed class Recorder(List<double> losses, List<(ScalarType, ScalarType)>? dtypes) : Callback
    {
        public override void OnTrainBatchEnd(Trainer trainer, TrainingModuleBase module, double loss, int batchIndex, long batchSize)
        {
            losses.Add(loss);
            var classifier = (ImageClassifier)module;
            dtypes?.Add((classifier.Model.named_parameters().First(p => p.name == "conv1.weight").parameter.dtype,
                module.named_parameters().First(p => p.name == "model.conv1.weight").parameter.dtype));
        }
    }

    private sealed class SimulatedCrash : Exception;

    private sealed class KillAtStep(long step) : Callback
    {
        public override void OnTrainBatchEnd(Trainer trainer, TrainingModuleBase module, double loss, int batchIndex, long batchSize)
        {
            if (trainer.GlobalStep == step) throw new SimulatedCrash();
        }
    }

    /// <summary>8x8 images of noise with one bright third (top, middle or bottom rows); the class says which.</summary>
    private sealed class ImageLoader : IDataLoader<Batch>
    {
        private readonly float[][] images;
        private readonly long[] labels;
        private readonly int batchSize;

        public ImageLoader(int count, int batchSize)
        {
            images = Make(count, out labels);
            this.batchSize = batchSize;
        }

        private static float[][] Make(int count, out long[] labels)
        {
            var rng = new Random(5);
            labels = new long[count];
            var result = new float[count][];
            for (int i = 0; i < count; i++)
            {
                int label = i % 3;
                labels[i] = label;
                result[i] = new float[64];
                for (int p = 0; p < 64; p++)
                {
                    int band = Math.Min(2, p / 8 / 3);
                    result[i][p] = (float)rng.NextDouble() * 0.5f + (band == label ? 0.6f : 0f);
                }
            }
            return result;
        }

        public int BatchesPerEpoch => (images.Length + batchSize - 1) / batchSize;
        public int ExampleCount => images.Length;

        public IEnumerable<Batch> Epoch(int epoch, int startBatch = 0)
        {
            var order = Enumerable.Range(0, images.Length).ToArray();
            new Random(100 + epoch).Shuffle(order);
            for (int b = startBatch; b < BatchesPerEpoch; b++)
            {
                var idx = order.Skip(b * batchSize).Take(batchSize).ToArray();
                yield return new Batch(tensor(idx.SelectMany(i => images[i]).ToArray(), [idx.Length, 1, 8, 8]), tensor(idx.Select(i => labels[i]).ToArray()));
            }
        }
    }
}
