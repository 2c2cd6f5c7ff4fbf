using System.Globalization;
using Tessera.Checkpoints;
using Tessera.Diffusion;
using Tessera.Diffusion.Pipelines;
using Tessera.Recipes;
using Tessera.Tasks;
using Tessera.Tests.Shared;
using Tessera.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace Tessera.Tests.Recipes;

/// <summary>The diffusion training recipe: the objective learns, the EMA resumes exactly, bad input is refused, and the Fréchet distance matches PyTorch.</summary>
public class DiffusionTrainingTests : IDisposable
{
    readonly TempDirectory temp = new("tessera-diffusion-train-");
    public void Dispose() => temp.Dispose();

    static DiffusionTrainingOptions Small(string outDir) => new()
    {
        UNet = DiffusionTraining.TinyUNet, LimitTrain = 64, BatchSize = 16, Epochs = 100, MaxSteps = 6, CheckpointEverySteps = 3,
        SampleEveryEpochs = 0, SampleSteps = 2, SamplesPerClass = 1, OutputDir = outDir, Seed = 3, Threads = null, PlainProgress = true,
    };

    // A small mlp classifier that judges samples (class agreement, Fréchet features).
    FashionMnistTrainingResult TrainJudge() => FashionMnistTraining.Run(new FashionMnistTrainingOptions
    {
        Model = "mlp", Epochs = 1, LimitTrain = 256, ValidationSize = 0, OutputDir = Path.Combine(temp.Path, "classifier"), Threads = null, PlainProgress = true,
    }, TextWriter.Null);

    sealed class Kill(long atStep) : Callback
    {
        public override void OnTrainBatchEnd(Trainer trainer, TrainingModuleBase module, double loss, int batchIndex, long batchSize)
        {
            if (trainer.GlobalStep == atStep) throw new OperationCanceledException("killed");
        }
    }

    static Dictionary<string, float[]> Read(string path)
    {
        var result = new Dictionary<string, float[]>();
        foreach (var (name, t) in SafeTensorsTorch.Load(path))
            using (t) result[name] = t.to_type(ScalarType.Float32).contiguous().data<float>().ToArray();
        return result;
    }

    [Fact]
    public void Resume_after_a_kill_gives_the_weights_and_ema_of_an_uninterrupted_run()
    {
        Requires.FashionMnist();
        string a = Path.Combine(temp.Path, "a"), b = Path.Combine(temp.Path, "b");
        DiffusionTraining.Run(Small(a), TextWriter.Null);
        Assert.Throws<OperationCanceledException>(() => DiffusionTraining.Run(Small(b) with { Callbacks = [new Kill(4)] }, TextWriter.Null));
        Assert.False(File.Exists(Path.Combine(b, "model", "model_index.json")));
        // Killed at step 4, after the step-3 checkpoint: resuming repeats step 4 from the checkpointed RNG and data position.
        DiffusionTraining.Run(Small(b) with { Resume = true }, TextWriter.Null);

        var full = Read(Path.Combine(a, "checkpoints", "last", TrainerCheckpoint.WeightsFile));
        var resumed = Read(Path.Combine(b, "checkpoints", "last", TrainerCheckpoint.WeightsFile));
        Assert.Equal(full.Keys.Order(), resumed.Keys.Order());
        Assert.Contains(full.Keys, k => k.StartsWith("ema.", StringComparison.Ordinal));
        double worst = 0;
        foreach (var (name, x) in full)
            for (int i = 0; i < x.Length; i++) worst = Math.Max(worst, Math.Abs(x[i] - resumed[name][i]));
        Assert.True(worst <= 1e-6, $"largest difference {worst}");

        // The saved pipeline holds the EMA weights, not the raw ones.
        var saved = Read(Path.Combine(a, "model", "unet", UNet2DModel.WeightsFile));
        var savedResumed = Read(Path.Combine(b, "model", "unet", UNet2DModel.WeightsFile));
        foreach (var (name, x) in saved)
        {
            Assert.Equal(full["ema." + name], x);
            Assert.Equal(x, savedResumed[name]);
        }
        Assert.Contains(saved.Keys, k => !full["ema." + k].SequenceEqual(full["unet." + k]));
    }

    [Fact]
    public void An_exported_pipeline_measures_in_onnx_runtime_what_torchsharp_measures()
    {
        Requires.FashionMnist();
        var classifier = TrainJudge();
        var result = DiffusionTraining.Run(Small(Path.Combine(temp.Path, "run")) with { MaxSteps = 2, CheckpointEverySteps = null }, TextWriter.Null);
        string onnxDir = Path.Combine(temp.Path, "onnx");
        Tessera.Export.ModelExport.Export(result.ModelDir, onnxDir);
        var options = new DiffusionEvaluationOptions { SamplesPerClass = 3, Steps = 4, Scheduler = "dpm++", RealImages = 300, Seed = 2 };

        DiffusionQuality torchQuality, ortQuality;
        using (var pipeline = DiffusionPipeline.FromPretrained(result.ModelDir)) torchQuality = DiffusionEvaluation.Evaluate(pipeline, classifier.ModelDir, options);
        using (var onnx = Tessera.Runtime.Diffusion.OrtDiffusionPipeline.FromPretrained(onnxDir)) ortQuality = DiffusionEvaluation.Evaluate(onnx, classifier.ModelDir, options);

        Assert.EndsWith(", TorchSharp", torchQuality.Sampling);
        Assert.EndsWith(", ONNX Runtime", ortQuality.Sampling);
        Assert.Equal(torchQuality.GeneratedImages, ortQuality.GeneratedImages);
        // The same noise through the same scheduler: the engines differ by float rounding only (an image may flip class at a boundary).
        for (int k = 0; k < 10; k++) Assert.InRange(Math.Abs(ortQuality.ClassAgreement[k] - torchQuality.ClassAgreement[k]), 0, 1.0 / 3 + 1e-9);
        Assert.Equal(torchQuality.FrechetDistance, ortQuality.FrechetDistance, torchQuality.FrechetDistance * 1e-3);
        Assert.Equal(torchQuality.FrechetFloor, ortQuality.FrechetFloor);
    }

    [Fact]
    public void Bf16_mixed_training_keeps_fp32_master_weights_and_an_fp32_ema_that_tracks_the_fp32_run()
    {
        Requires.FashionMnist();
        string fp32 = Path.Combine(temp.Path, "fp32"), bf16 = Path.Combine(temp.Path, "bf16");
        // EMA decay 0: the EMA must equal the weights after every step, exactly when it is taken from the fp32 masters.
        var reference = DiffusionTraining.Run(Small(fp32) with { EmaDecay = 0 }, TextWriter.Null);
        var mixed = DiffusionTraining.Run(Small(bf16) with { EmaDecay = 0, Precision = "bf16-mixed" }, TextWriter.Null);
        Assert.Equal(reference.Steps, mixed.Steps);
        Assert.InRange(mixed.FinalLoss, 0.8 * reference.FinalLoss, 1.25 * reference.FinalLoss);

        // Checkpoint and saved pipeline are fp32 (master weights; the EMA never had bf16 copies).
        foreach (string file in new[] { Path.Combine(bf16, "checkpoints", "last", TrainerCheckpoint.WeightsFile), Path.Combine(mixed.ModelDir, "unet", UNet2DModel.WeightsFile) })
            foreach (var (name, t) in SafeTensorsTorch.Load(file))
                using (t) Assert.True(t.dtype == ScalarType.Float32, $"{Path.GetFileName(file)}: {name} is {t.dtype}");
        var a = Read(Path.Combine(fp32, "checkpoints", "last", TrainerCheckpoint.WeightsFile));
        var b = Read(Path.Combine(bf16, "checkpoints", "last", TrainerCheckpoint.WeightsFile));
        double apart = 0;
        foreach (var (name, x) in a.Where(kv => kv.Key.StartsWith("ema.", StringComparison.Ordinal)))
            for (int i = 0; i < x.Length; i++) apart = Math.Max(apart, Math.Abs(b[name][i] - x[i]));
        Assert.True(apart > 0, "bf16-mixed gave the fp32 run's weights exactly: it did not compute in bf16");
        Assert.True(apart < 2e-2, $"largest EMA difference bf16-mixed vs fp32 {apart}");
        // An EMA averaged from the bf16 working copies would hold bf16-rounded weights; one converted to bf16 itself
        // would have left its fp32 masters (what checkpoints hold) at the initial weights.
        foreach (var (name, x) in b.Where(kv => kv.Key.StartsWith("ema.", StringComparison.Ordinal)))
            Assert.True(x.SequenceEqual(b["unet." + name[4..]]), $"{name} differs from the fp32 master weights");
    }

    [Fact]
    public void A_resumed_runs_card_describes_the_whole_run_like_an_uninterrupted_runs_card()
    {
        Requires.FashionMnist();
        string a = Path.Combine(temp.Path, "a"), b = Path.Combine(temp.Path, "b");
        // 64 images in batches of 16: 4 steps an epoch, so 6 steps end inside the second epoch; killed at step 4 (after
        // the step-3 checkpoint), the resumed process trains only steps 4-6.
        var full = DiffusionTraining.Run(Small(a), TextWriter.Null);
        Assert.Throws<OperationCanceledException>(() => DiffusionTraining.Run(Small(b) with { Callbacks = [new Kill(4)] }, TextWriter.Null));
        var resumed = DiffusionTraining.Run(Small(b) with { Resume = true }, TextWriter.Null);

        // The uninterrupted run against its own metrics.csv, read independently: one logged loss per step 1..6.
        var logged = File.ReadAllLines(Path.Combine(a, "metrics.csv")) is var lines && lines[0].Split(',') is var header
            ? lines.Skip(1).Select(l => l.Split(',')).Where(c => c[Array.IndexOf(header, "train_loss")].Length > 0)
                .Select(c => (Step: long.Parse(c[0], CultureInfo.InvariantCulture), Loss: double.Parse(c[Array.IndexOf(header, "train_loss")], CultureInfo.InvariantCulture))).ToList()
            : throw new InvalidOperationException();
        Assert.Equal([1L, 2, 3, 4, 5, 6], logged.Select(p => p.Step));
        Assert.Equal(logged, full.LossCurve);
        Assert.Equal(logged[0].Loss, full.FirstLoss);
        Assert.Equal(logged[^1].Loss, full.FinalLoss);
        Assert.Equal(1, full.Epochs);
        Assert.Equal(6, full.Steps);

        // The resumed run's result and card cover steps 1-6 too, not only the 3 steps its process trained.
        Assert.Equal(full.Epochs, resumed.Epochs);
        Assert.Equal(full.Steps, resumed.Steps);
        Assert.Equal(full.LossCurve.Select(p => p.Step), resumed.LossCurve.Select(p => p.Step));
        for (int i = 0; i < full.LossCurve.Count; i++) Assert.True(Math.Abs(full.LossCurve[i].Loss - resumed.LossCurve[i].Loss) <= 1e-5, $"step {full.LossCurve[i].Step}");
        static string[] Summary(string run) => File.ReadAllLines(Path.Combine(run, "model", "README.md"))
            .Where(l => l.StartsWith("| epochs / steps", StringComparison.Ordinal) || l.StartsWith("| training loss", StringComparison.Ordinal)
                || (l.StartsWith("| ", StringComparison.Ordinal) && l.Length > 2 && char.IsDigit(l[2]))).ToArray();
        string[] cardA = Summary(a), cardB = Summary(b);
        Assert.Contains("| epochs / steps | 1 / 6 (batch 16) |", cardA);
        Assert.Contains(cardA, l => l.StartsWith("| training loss | ", StringComparison.Ordinal) && !l.Contains("NaN", StringComparison.Ordinal));
        Assert.Equal(2 + 6, cardA.Length); // the two summary rows and a loss-curve row per logged step
        Assert.Equal(cardA, cardB);
    }

    [Fact]
    public void With_a_classifier_the_cards_model_index_holds_the_measured_quality_and_the_classifiers_its_test_scores()
    {
        Requires.FashionMnist();
        var classifier = TrainJudge();
        var result = DiffusionTraining.Run(Small(Path.Combine(temp.Path, "ddpm")) with
        {
            MaxSteps = 2, CheckpointEverySteps = null, Classifier = classifier.ModelDir, EvalSamplesPerClass = 2,
        }, TextWriter.Null);
        var quality = Assert.IsType<DiffusionQuality>(result.Quality);

        // The classifier's own card: its test-set accuracy and macro F1 (rounded to 4 places, as the card shows them).
        var classifierIndex = CardFrontMatter.ReadModelIndex(Path.Combine(classifier.ModelDir, "README.md"));
        Assert.Equal(("mlp-fashion-mnist", "image-classification", "Fashion-MNIST", "test"), (classifierIndex.Name, classifierIndex.TaskType, classifierIndex.DatasetName, classifierIndex.Split));
        Assert.Equal(Math.Round(classifier.TestAccuracy, 4), classifierIndex.Metrics["accuracy"].Value);
        Assert.Equal(Math.Round(classifier.MacroF1, 4), classifierIndex.Metrics["f1"].Value);

        // Read back by PyYAML: the class agreement and Fréchet distance the run measured, on Fashion-MNIST's test split.
        var index = CardFrontMatter.ReadModelIndex(Path.Combine(result.ModelDir, "README.md"));
        Assert.Equal(("ddpm-fashion-mnist", "unconditional-image-generation", "fashion_mnist", "test"), (index.Name, index.TaskType, index.DatasetType, index.Split));
        var metrics = index.Metrics;
        Assert.Equal(["class_agreement", "frechet_distance"], metrics.Keys.Order());
        Assert.Equal(quality.ClassAgreement.Average(), metrics["class_agreement"].Value, 1e-12);
        Assert.Equal(quality.FrechetDistance, metrics["frechet_distance"].Value, 1e-12);
        Assert.Contains($"{quality.GeneratedImages} generated vs {quality.RealImages} real test", metrics["frechet_distance"].Name);
    }

    [Trait("Category", "Slow")]
    [Fact]
    public void A_short_training_lowers_the_loss_and_its_samples_differ_by_class()
    {
        Requires.FashionMnist();
        string outDir = Path.Combine(temp.Path, "learn");
        var result = DiffusionTraining.Run(Small(outDir) with { LimitTrain = 512, BatchSize = 32, MaxSteps = 150, CheckpointEverySteps = null, LearningRate = 3e-3, EmaDecay = 0.99 }, TextWriter.Null);
        Assert.Equal(150, result.Steps);
        Assert.True(result.FinalLoss < 0.6 * result.FirstLoss, $"loss {result.FirstLoss} -> {result.FinalLoss}");
        foreach (string file in new[] { "model_index.json", "unet/config.json", "unet/diffusion_pytorch_model.safetensors", "scheduler/scheduler_config.json", "README.md", "samples.png" })
            Assert.True(File.Exists(Path.Combine(result.ModelDir, file)), file);
        string card = File.ReadAllText(Path.Combine(result.ModelDir, "README.md"));
        Assert.Contains("one row per class", card);
        // 150 steps of 16 batches: at least 9 epoch ends, each with the process's resident memory, and the card states it.
        Assert.True(result.RssMegabytesPerEpoch.Count >= 9, $"{result.RssMegabytesPerEpoch.Count} RSS values");
        Assert.All(result.RssMegabytesPerEpoch, mb => Assert.InRange(mb, 1, 1e6));
        Assert.Contains("resident memory (RSS)", card);

        // Same noise, different class: a trouser (1) and a bag (8) must not come out the same.
        using var pipeline = DiffusionPipeline.FromPretrained(result.ModelDir);
        pipeline.Scheduler = global::Tessera.Diffusion.Schedulers.Schedulers.Create("ddim", pipeline.Scheduler.Config);
        float[] Mean(long label)
        {
            var output = pipeline.Generate(new SamplingOptions { NumImages = 8, ClassLabel = label, NumInferenceSteps = 20, Seed = 5, GuidanceScale = 3 });
            var mean = new float[output.Height * output.Width];
            for (int i = 0; i < output.Count; i++)
                for (int p = 0; p < mean.Length; p++) mean[p] += output.Image(i)[p] / output.Count;
            return mean;
        }
        float[] trouser = Mean(1), bag = Mean(8);
        double diff = trouser.Zip(bag, (x, y) => Math.Abs(x - y)).Average();
        Assert.True(diff > 0.1, $"mean absolute difference between class means {diff}");
    }

    [Fact]
    public void Unet_gradients_stay_finite_when_freed_memory_held_nan()
    {
        // libtorch's CPU convolution backward leaves part of grad_input unwritten for 1-2 output channels (conv_out of a
        // grayscale UNet); freed NaN-filled blocks make that visible. Before the fix this failed within a few repetitions.
        manual_seed(11);
        using var unet = new UNet2DModel(DiffusionTraining.TinyUNet);
        using var x = randn(16, 1, 28, 28);
        using var t = randint(0, 1000, [16]);
        using var labels = randint(0, 10, [16]);
        using var g = randn(16, 1, 28, 28);
        Tensor expected;
        using (no_grad()) expected = unet.call(x, t, labels);
        using (expected)
        {
            for (int rep = 0; rep < 12; rep++)
            {
                using var scope = NewDisposeScope();
                for (int k = 0; k < 10; k++) full(new long[] { 16, 32, 28, 28 }, float.NaN).Dispose();
                unet.zero_grad();
                Tensor y = unet.call(x, t, labels);
                Assert.True((y - expected).abs().max().item<float>() <= 1e-6f, "the output with gradients recorded differs from the no-grad output");
                (y * g).sum().backward();
                foreach (var (name, p) in unet.named_parameters())
                    Assert.True(p.grad is null || p.grad.isfinite().all().item<bool>(), $"repetition {rep}: {name} has non-finite gradients");
            }
        }
    }

    [Fact]
    public void A_class_id_outside_num_class_embeds_is_refused()
    {
        using var unet = new UNet2DModel(DiffusionTraining.TinyUNet);
        using var module = new DiffusionModule(unet, DiffusionTraining.Scheduler(new DiffusionTrainingOptions()), new DiffusionModuleOptions());
        using var images = zeros(2, 1, 28, 28);
        using var labels = tensor(new long[] { 3, 10 });
        var e = Assert.Throws<ArgumentException>(() => module.Loss(images, labels, 0));
        Assert.Contains("class label 10 is outside 0..9", e.Message);
        var sample = Assert.Throws<ArgumentException>(() => new DiffusionPipeline(unet, DiffusionTraining.Scheduler(new DiffusionTrainingOptions()))
            .Generate(new SamplingOptions { ClassLabel = 11, NumInferenceSteps = 1 }));
        Assert.DoesNotContain('\n', sample.Message);
    }

    [Fact]
    public void Bad_options_are_refused_before_training()
    {
        Assert.Throws<ArgumentException>(() => DiffusionTraining.Run(Small(Path.Combine(temp.Path, "x")) with { MaxSteps = 0 }, TextWriter.Null));
        Assert.Throws<ArgumentException>(() => DiffusionTraining.Run(Small(Path.Combine(temp.Path, "x")) with { UNet = DiffusionTraining.TinyUNet with { NumClassEmbeds = 10 } }, TextWriter.Null));
        Assert.Throws<Formats.TesseraFormatException>(() => DiffusionPipeline.FromPretrained(temp.Path));
    }

    [Fact]
    public void Padding_rounds_28_up_to_a_multiple_of_the_downsampling()
    {
        Assert.Equal(28, DiffusionTraining.PaddedSize(3));
        Assert.Equal(32, DiffusionTraining.PaddedSize(4));
        Assert.Equal(32, DiffusionTraining.PaddedSize(5));
    }

    [Fact]
    public void Frechet_distance_matches_an_independent_pytorch_computation()
    {
        Requires.Python("torch");
        var rng = new Random(7);
        const int d = 6;
        float[] a = new float[300 * d], b = new float[200 * d];
        for (int i = 0; i < a.Length; i++) a[i] = (float)(rng.NextDouble() * 2 - 1 + (i % d == 0 ? 0.5 * (i / d % 3) : 0));
        for (int i = 0; i < b.Length; i++) b[i] = (float)((rng.NextDouble() - 0.3) * (1 + i % d) * 0.7);
        string pa = temp.File("a.f32"), pb = temp.File("b.f32");
        ReferencePython.WriteFloats(pa, a);
        ReferencePython.WriteFloats(pb, b);
        // Independent route: the trace of sqrtm(S1 S2) from the (general, non-symmetric) eigenvalues of S1 S2.
        string script = """
            import sys, struct, torch
            def load(p, d):
                data = open(p, 'rb').read()
                return torch.tensor(struct.unpack('<%df' % (len(data) // 4), data), dtype=torch.float64).reshape(-1, d)
            d = int(sys.argv[3])
            x, y = load(sys.argv[1], d), load(sys.argv[2], d)
            def stats(z):
                mu = z.mean(0)
                c = z - mu
                return mu, c.T @ c / (z.shape[0] - 1)
            m1, s1 = stats(x)
            m2, s2 = stats(y)
            ev = torch.linalg.eigvals(s1 @ s2)
            tr = ev.real.clamp(min=0).sqrt().sum()
            print(repr(float(((m1 - m2) ** 2).sum() + torch.trace(s1) + torch.trace(s2) - 2 * tr)))
            """;
        double expected = double.Parse(ReferencePython.Run(script, pa, pb, d.ToString(CultureInfo.InvariantCulture)).Trim(), CultureInfo.InvariantCulture);
        using var ta = tensor(a, [300, d]);
        using var tb = tensor(b, [200, d]);
        double actual = DiffusionEvaluation.FrechetDistance(ta, tb);
        Assert.True(Math.Abs(actual - expected) <= 1e-6 * Math.Abs(expected), $"{actual} vs {expected}");
        Assert.True(expected > 0.1);
        Assert.True(Math.Abs(DiffusionEvaluation.FrechetDistance(ta, ta)) < 1e-9);
    }
}
