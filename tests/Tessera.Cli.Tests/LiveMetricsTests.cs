using Tessera.Recipes;
using Tessera.Tracking.Csv;
using Tessera.Tracking.Runs;
using Tessera.Training;

namespace Tessera.Cli.Tests;

/// <summary>A tracked training's metrics reach the runs store as they are logged, and each point is recorded once.</summary>
[Collection(SeededAlone.Name)]
public sealed class LiveMetricsTests : IDisposable
{
    readonly TempDirectory temp = new("tessera-cli-live-");

    public void Dispose() => temp.Dispose();

    [Fact]
    [Trait("Category", "Slow")]
    public void Metrics_are_in_the_store_while_the_training_still_runs()
    {
        Requires.FashionMnist();
        string storePath = temp.File("runs.db");
        using var store = RunStore.Open(storePath);
        using var run = store.StartRun(new RunStartOptions { Experiment = "live" });
        var probe = new StoreProbe(storePath, run.Id);
        using (var live = new CliLiveMetrics(run, flushInterval: TimeSpan.Zero))
        using (AmbientLoggers.Attach(live))
            FashionMnistTraining.Run(new FashionMnistTrainingOptions
            {
                Model = "mlp", Epochs = 2, LimitTrain = 256, ValidationSize = 64, BatchSize = 32, Seed = 1, Threads = 1,
                OutputDir = temp.File("out"), Callbacks = [probe], PlainProgress = true,
            }, TextWriter.Null);
        Assert.Null(AmbientLoggers.Current.FirstOrDefault()); // the scope ended with the using block

        // Read through another connection at the end of the first epoch: the steps so far were already there.
        Assert.True(probe.StepAtFirstEpochEnd > 0);
        Assert.NotEmpty(probe.SeenAtFirstEpochEnd);
        Assert.Contains(probe.SeenAtFirstEpochEnd, p => p.Key == "val_acc");
        Assert.All(probe.SeenAtFirstEpochEnd, p => Assert.True(p.Step <= probe.StepAtFirstEpochEnd, $"{p.Key} at step {p.Step} is after {probe.StepAtFirstEpochEnd}"));
        // The whole run ends up in the store, including the second epoch.
        run.Flush();
        var all = store.GetMetricHistory(run.Id);
        Assert.Contains(all, p => p.Step > probe.StepAtFirstEpochEnd);
        Assert.True(all.Count > probe.SeenAtFirstEpochEnd.Count);
    }

    [Fact]
    [Trait("Category", "Slow")]
    public void A_tracked_training_records_every_point_of_its_metrics_csv_exactly_once()
    {
        Requires.FashionMnist();
        string storePath = temp.File("store");
        string output = temp.File("run");
        var (code, _, err) = CliRunner.Run("train", "fashion-mnist", "--model", "mlp", "--epochs", "1", "--limit-train", "256", "--val-size", "64",
            "--out", output, "--seed", "3", "--threads", "1", "--tracking-uri", storePath);
        Assert.True(code == 0, err);
        using var store = RunStore.Open(storePath);
        var run = Assert.Single(store.ListRuns());
        var stored = store.GetMetricHistory(run.Id);
        var csv = CsvMetricsReader.Read(Path.Combine(output, "metrics.csv")).SelectMany(row => row.Metrics.Select(m => (m.Key, Step: row.Step, m.Value))).ToList();
        Assert.NotEmpty(csv);
        Assert.Equal(
            csv.GroupBy(p => (p.Key, p.Step)).ToDictionary(g => g.Key, g => g.Count()),
            stored.GroupBy(p => (p.Key, p.Step)).ToDictionary(g => g.Key, g => g.Count()));
        foreach (var (key, step, value) in csv)
            Assert.Equal(value, stored.First(p => p.Key == key && p.Step == step).Value, 6);
    }

    [Fact]
    public void A_tracked_command_runs_with_its_live_logger_attached_and_detached_after()
    {
        string storePath = temp.File("runs.db");
        IReadOnlyList<IMetricsLogger> attached = [];
        IReadOnlyList<MetricPoint> seenWhileRunning = [];
        RunStatus statusWhileRunning = RunStatus.Finished;
        var train = new System.CommandLine.Command("train");
        train.SetAction(_ =>
        {
            attached = AmbientLoggers.Current;
            foreach (var logger in attached) logger.LogMetrics(new Dictionary<string, double> { ["loss"] = 0.5 }, 7);
            foreach (var logger in attached) logger.Flush();
            using var reader = RunStore.Open(storePath);
            var run = Assert.Single(reader.ListRuns());
            statusWhileRunning = run.Status;
            seenWhileRunning = reader.GetMetricHistory(run.Id);
            return 0;
        });
        var root = CliTracking.AddOptions(new System.CommandLine.RootCommand { train });
        int code = Tessera.Cli.Cli.Run(root, ["train", "--tracking-uri", storePath], TextWriter.Null, TextWriter.Null);

        Assert.Equal(0, code);
        Assert.IsType<CliLiveMetrics>(Assert.Single(attached));
        Assert.Equal(RunStatus.Running, statusWhileRunning);
        var point = Assert.Single(seenWhileRunning);
        Assert.Equal(("loss", 7L, 0.5), (point.Key, point.Step, point.Value));
        Assert.Empty(AmbientLoggers.Current); // the command's end detached it
        using var store = RunStore.Open(storePath);
        Assert.Single(store.GetMetricHistory(Assert.Single(store.ListRuns()).Id)); // recorded once
    }

    /// <summary>At the end of the first epoch, reads the run's metrics through a second connection to the store.</summary>
    sealed class StoreProbe(string storePath, string runId) : Callback
    {
        public IReadOnlyList<MetricPoint> SeenAtFirstEpochEnd { get; private set; } = [];

        public long StepAtFirstEpochEnd { get; private set; }

        public override void OnTrainEpochEnd(Trainer trainer, TrainingModuleBase module)
        {
            if (trainer.CurrentEpoch != 0) return;
            StepAtFirstEpochEnd = trainer.GlobalStep;
            using var reader = RunStore.Open(storePath);
            SeenAtFirstEpochEnd = reader.GetMetricHistory(runId);
        }
    }
}
