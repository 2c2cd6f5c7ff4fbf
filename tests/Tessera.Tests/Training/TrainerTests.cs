using Tessera.Data;
using Tessera.Tests.Shared;
using Tessera.Training;
using Tessera.Training.Callbacks;
using TorchSharp;
using static TorchSharp.torch;

namespace Tessera.Tests.Training;

public class TrainerTests : IDisposable
{
    private readonly TempDirectory temp = new("tessera-trainer-");
    public void Dispose() => temp.Dispose();

    private static TrainerOptions Quiet(int epochs) => new() { MaxEpochs = epochs, Seed = 123, Threads = 1 };

    [Fact]
    public void Fit_matches_a_hand_written_loop_step_for_step()
    {
        var loader = new ListLoader(96, 16, shuffle: true);
        var losses = new List<double>();
        using var module = new TinyClassifier(1);
        var trainer = new Trainer(Quiet(2) with { Callbacks = [new LossRecorder(losses)] });
        trainer.Fit(module, loader);

        set_num_threads(1);
        using var reference = new TinyClassifier(1);
        manual_seed(123);
        var opt = optim.Adam(reference.parameters(), 0.05);
        var refLosses = new List<double>();
        reference.train();
        for (int epoch = 0; epoch < 2; epoch++)
            foreach (var batch in loader.Epoch(epoch))
            {
                using var scope = NewDisposeScope();
                var loss = nn.functional.cross_entropy(reference.Forward(batch.Inputs), batch.Targets);
                refLosses.Add(loss.ToDouble());
                loss.backward();
                opt.step();
                opt.zero_grad();
                batch.Dispose();
            }

        Assert.Equal(refLosses.Count, losses.Count);
        for (int i = 0; i < losses.Count; i++) Assert.Equal(refLosses[i], losses[i], 5);
        AssertSameWeights(reference.Weights(), module.Weights(), 1e-6f);
        Assert.Equal(12, trainer.GlobalStep);
    }

    [Fact]
    public void Gradient_accumulation_of_two_half_batches_equals_one_full_batch()
    {
        using var a = new TinyClassifier(2) { UseSgd = true };
        using var b = new TinyClassifier(2) { UseSgd = true };
        a.eval(); b.eval(); // dropout off in both so the two runs see the same function
        new Trainer(new TrainerOptions { MaxEpochs = 1, Seed = 5 }).Fit(new EvalModeWrapper(a), new ListLoader(32, 32, false));
        new Trainer(new TrainerOptions { MaxEpochs = 1, Seed = 5, AccumulateGradBatches = 2 }).Fit(new EvalModeWrapper(b), new ListLoader(32, 16, false));
        AssertSameWeights(a.Weights(), b.Weights(), 1e-6f);
    }

    [Fact]
    public void Gradient_clipping_limits_the_update_norm()
    {
        using var module = new TinyClassifier(3) { UseSgd = true, LearningRate = 1.0 };
        var before = module.Weights();
        new Trainer(new TrainerOptions { MaxSteps = 1, MaxEpochs = null, GradientClipNorm = 0.01 }).Fit(module, new ListLoader(16, 16, false));
        var after = module.Weights();
        double sq = before.Keys.Sum(k => before[k].Zip(after[k]).Sum(p => (double)(p.First - p.Second) * (p.First - p.Second)));
        Assert.Equal(0.01, Math.Sqrt(sq), 4); // SGD with lr 1 moves the weights by exactly the clipped gradient
    }

    [Fact]
    public void MaxSteps_stops_inside_an_epoch()
    {
        using var module = new TinyClassifier(4);
        var trainer = new Trainer(new TrainerOptions { MaxEpochs = 100, MaxSteps = 7 });
        trainer.Fit(module, new ListLoader(64, 16, true));
        Assert.Equal(7, trainer.GlobalStep);
        Assert.Equal(1, trainer.CurrentEpoch);
    }

    [Fact]
    public void Validation_runs_every_N_batches_and_at_epoch_end()
    {
        var counter = new ValidationCounter();
        using var module = new TinyClassifier(5);
        new Trainer(Quiet(2) with { ValCheckIntervalBatches = 2, Callbacks = [counter] })
            .Fit(module, new ListLoader(80, 16, true), new ListLoader(32, 16, false));
        Assert.Equal(6, counter.Count); // 5 batches an epoch: after batches 2 and 4, then at the epoch end; twice
    }

    [Fact]
    public void Resume_after_kill_gives_same_weights()
    {
        var train = new ListLoader(80, 16, shuffle: true);
        using var straight = new TinyClassifier(6);
        new Trainer(Quiet(3)).Fit(straight, train);

        // Killed in the middle of epoch 2 (0-based 1), just after a checkpoint every 3 steps.
        using var first = new TinyClassifier(6);
        var ckptDir = Path.Combine(temp.Path, "ckpt");
        var killer = new KillAtStep(8);
        var trainer1 = new Trainer(Quiet(3) with { Callbacks = [new ModelCheckpoint(ckptDir, saveTopK: 0, everyNTrainSteps: 3), killer] });
        Assert.Throws<SimulatedCrash>(() => trainer1.Fit(first, train));

        using var resumed = new TinyClassifier(99); // different init: everything must come from the checkpoint
        var trainer2 = new Trainer(Quiet(3));
        trainer2.Fit(resumed, train, checkpointPath: Path.Combine(ckptDir, "last"));
        Assert.Equal(15, trainer2.GlobalStep);
        AssertSameWeights(straight.Weights(), resumed.Weights(), 1e-6f);
    }

    [Fact]
    public void ModelCheckpoint_keeps_top_k_by_monitored_metric_and_last()
    {
        using var module = new TinyClassifier(7);
        var ckpt = new ModelCheckpoint(Path.Combine(temp.Path, "ck"), monitor: "val_loss", saveTopK: 2);
        new Trainer(Quiet(4) with { Callbacks = [ckpt] }).Fit(module, new ListLoader(64, 16, true), new ListLoader(32, 16, false));
        var folders = Directory.GetDirectories(Path.Combine(temp.Path, "ck")).Select(Path.GetFileName).Order().ToArray();
        Assert.Equal(3, folders.Length);
        Assert.Contains("last", folders);
        Assert.Equal(2, ckpt.BestKModels.Count);
        Assert.Equal(ckpt.BestKModels.Values.Min(), ckpt.BestModelScore);
        Assert.All(ckpt.BestKModels.Keys, p => Assert.True(File.Exists(Path.Combine(p, TrainerCheckpoint.WeightsFile))));
    }

    [Fact]
    public void Monitoring_a_metric_that_was_never_logged_names_the_available_ones()
    {
        using var module = new TinyClassifier(8);
        var trainer = new Trainer(Quiet(1) with { Callbacks = [new EarlyStopping("val_accuracy")] });
        var e = Assert.Throws<InvalidOperationException>(() => trainer.Fit(module, new ListLoader(32, 16, false), new ListLoader(16, 16, false)));
        Assert.Contains("'val_accuracy' was not logged", e.Message);
        Assert.Contains("val_acc, val_loss", e.Message);
    }

    [Fact]
    public void EarlyStopping_stops_when_the_metric_stops_improving()
    {
        using var module = new TinyClassifier(9) { LearningRate = 0 }; // nothing changes, so val_loss never improves
        var stopper = new EarlyStopping("val_loss", patience: 2);
        var trainer = new Trainer(Quiet(50) with { Callbacks = [stopper] });
        trainer.Fit(module, new ListLoader(32, 16, false), new ListLoader(16, 16, false));
        Assert.Equal(2, stopper.StoppedEpoch); // best at epoch 0; epochs 1 and 2 do not improve: wait reaches patience
        Assert.Equal(3, trainer.CurrentEpoch); // epochs completed, as Lightning counts
    }

    [Fact]
    public void A_logger_that_throws_is_reported_once_and_disabled_and_the_run_goes_on()
    {
        using var reference = new TinyClassifier(10);
        new Trainer(Quiet(2)).Fit(reference, new ListLoader(64, 16, true), new ListLoader(32, 16, false));

        using var module = new TinyClassifier(10);
        var broken = new ThrowingLogger();
        var good = new RecordingLogger();
        var warnings = new StringWriter();
        var trainer = new Trainer(Quiet(2) with { Loggers = [broken, good], LogEveryNSteps = 1, ErrorOutput = warnings });
        trainer.Fit(module, new ListLoader(64, 16, true), new ListLoader(32, 16, false));

        Assert.Equal(2, trainer.CurrentEpoch);
        Assert.Equal(1, broken.Calls); // LogHyperparameters threw; nothing after that
        var failure = Assert.Single(trainer.FailedLoggers);
        Assert.Same(broken, failure.Logger);
        Assert.IsType<IOException>(failure.Error);
        var line = Assert.Single(warnings.ToString().Trim().Split('\n'));
        Assert.Contains("ThrowingLogger", line);
        Assert.Contains("disk full", line);
        Assert.Equal(8, good.Steps.Count(s => s.Metrics.ContainsKey("train_loss"))); // the other logger saw every step
        Assert.Equal(2, good.Steps.Count(s => s.Metrics.ContainsKey("val_loss")));
        AssertSameWeights(reference.Weights(), module.Weights(), 0f); // and training was not disturbed
    }

    [Theory]
    [InlineData("cosine")]
    [InlineData("onecycle")]
    public void Schedules_keep_each_parameter_groups_own_base_rate(string kind)
    {
        ILrSchedule schedule = kind == "cosine" ? new Tessera.Training.Schedules.WarmupCosineSchedule(0.05, 2, 8) : new Tessera.Training.Schedules.OneCycleSchedule(0.05, 8);
        using var module = new TinyClassifier(11) { LearningRate = 0.05, HeadLrScale = 10, MakeSchedule = _ => schedule };
        var rates = new RateRecorder();
        new Trainer(Quiet(2) with { Callbacks = [rates] }).Fit(module, new ListLoader(64, 16, true));

        Assert.Equal(8, rates.Groups.Count);
        for (int step = 0; step < 8; step++)
        {
            var (body, head) = (rates.Groups[step][0], rates.Groups[step][1]);
            Assert.Equal(schedule.LearningRate(step), body, 12); // the schedule's rate for the first group
            Assert.Equal(10 * body, head, 12);                    // the head keeps 10x through warmup and decay
        }
        Assert.Contains(rates.Groups, g => g[0] > 0.01); // not a schedule stuck at zero
    }

    private sealed class RateRecorder : Callback
    {
        public List<double[]> Groups { get; } = [];
        public override void OnTrainBatchEnd(Trainer trainer, TrainingModuleBase module, double loss, int batchIndex, long batchSize) =>
            Groups.Add(trainer.Optimizer!.ParamGroups.Select(g => g.LearningRate).ToArray());
    }

    private sealed class ThrowingLogger : IMetricsLogger
    {
        public int Calls { get; private set; }
        public void LogHyperparameters(IReadOnlyDictionary<string, object?> hyperparameters) => Fail();
        public void LogMetrics(IReadOnlyDictionary<string, double> metrics, long step) => Fail();
        public void Flush() => Fail();
        public void Dispose() { }
        void Fail()
        {
            Calls++;
            throw new IOException("disk full");
        }
    }

    private sealed class RecordingLogger : IMetricsLogger
    {
        public List<(long Step, Dictionary<string, double> Metrics)> Steps { get; } = [];
        public void LogHyperparameters(IReadOnlyDictionary<string, object?> hyperparameters) { }
        public void LogMetrics(IReadOnlyDictionary<string, double> metrics, long step) => Steps.Add((step, metrics.ToDictionary()));
        public void Flush() { }
        public void Dispose() { }
    }

    internal static void AssertSameWeights(Dictionary<string, float[]> expected, Dictionary<string, float[]> actual, float tol)
    {
        Assert.Equal(expected.Keys.Order(), actual.Keys.Order());
        foreach (var (k, v) in expected)
        {
            float maxDiff = v.Zip(actual[k]).Max(p => Math.Abs(p.First - p.Second));
            Assert.True(maxDiff <= tol, $"{k}: max abs diff {maxDiff}");
        }
    }

    private sealed class LossRecorder(List<double> losses) : Callback
    {
        public override void OnTrainBatchEnd(Trainer trainer, TrainingModuleBase module, double loss, int batchIndex, long batchSize) => losses.Add(loss);
    }

    private sealed class ValidationCounter : Callback
    {
        public int Count;
        public override void OnValidationEnd(Trainer trainer, TrainingModuleBase module) => Count++;
    }

    private sealed class SimulatedCrash : Exception;

    private sealed class KillAtStep(long step) : Callback
    {
        public override void OnTrainBatchEnd(Trainer trainer, TrainingModuleBase module, double loss, int batchIndex, long batchSize)
        {
            if (trainer.GlobalStep == step) throw new SimulatedCrash();
        }
    }

    /// <summary>Keeps the wrapped module in eval mode during training (no dropout) to compare batch arithmetic exactly.</summary>
    private sealed class EvalModeWrapper : TrainingModule
    {
        private readonly TinyClassifier inner;
        public EvalModeWrapper(TinyClassifier inner) : base("wrap") { this.inner = inner; RegisterComponents(); }
        public override Tensor TrainingStep(Batch batch, int batchIndex) { inner.eval(); return inner.TrainingStep(batch, batchIndex); }
        public override OptimizerConfig ConfigureOptimizers() => inner.ConfigureOptimizers();
    }
}
