using Tessera.Training;

namespace Tessera.Tests.Training;

/// <summary>Loggers attached in a flow reach the trainers created in it, and only those.</summary>
public class AmbientLoggersTests
{
    [Fact]
    public void A_trainer_created_in_the_scope_logs_to_the_attached_logger_as_well_as_its_own()
    {
        var own = new CountingLogger();
        var attached = new CountingLogger();
        Trainer trainer;
        using (AmbientLoggers.Attach(attached))
        {
            Assert.Equal([attached], AmbientLoggers.Current);
            trainer = new Trainer(new TrainerOptions { MaxEpochs = 1, Seed = 1, Threads = 1, Loggers = [own], LogEveryNSteps = 1 });
        }
        Assert.Empty(AmbientLoggers.Current);
        Assert.Equal([own, attached], trainer.Loggers);
        using var module = new TinyClassifier(3);
        trainer.Fit(module, new ListLoader(32, 8, true), new ListLoader(16, 8, false)); // after the scope: the trainer keeps its loggers
        Assert.Equal(own.Points, attached.Points);
        Assert.Contains(attached.Points, p => p.Key == "train_loss" && p.Step == 4);
        Assert.Contains(attached.Points, p => p.Key == "val_loss");
        Assert.Equal(1, attached.Hyperparameters);

        var later = new Trainer(new TrainerOptions { MaxEpochs = 1, Loggers = [own] });
        Assert.Equal([own], later.Loggers);
    }

    [Fact]
    public async Task Scopes_nest_and_do_not_leak_into_concurrent_flows()
    {
        var outer = new CountingLogger();
        var inner = new CountingLogger();
        using var entered = new ManualResetEventSlim();
        using var release = new ManualResetEventSlim();
        var other = Task.Run(() =>
        {
            entered.Wait();
            var seen = AmbientLoggers.Current.ToList(); // while the first flow has two attached
            release.Set();
            return seen;
        }, TestContext.Current.CancellationToken);
        using (AmbientLoggers.Attach(outer))
        {
            using (AmbientLoggers.Attach(inner))
            {
                Assert.Equal([outer, inner], AmbientLoggers.Current);
                entered.Set();
                release.Wait(TestContext.Current.CancellationToken);
                var flowed = await Task.Run(() => AmbientLoggers.Current.ToList(), TestContext.Current.CancellationToken);
                Assert.Equal([outer, inner], flowed); // a task started inside the scope sees it
            }
            Assert.Equal([outer], AmbientLoggers.Current);
        }
        Assert.Empty(AmbientLoggers.Current);
        Assert.Empty(await other);
    }

    private sealed class CountingLogger : IMetricsLogger
    {
        public List<(string Key, long Step)> Points { get; } = [];
        public int Hyperparameters { get; private set; }
        public void LogHyperparameters(IReadOnlyDictionary<string, object?> hyperparameters) => Hyperparameters++;
        public void LogMetrics(IReadOnlyDictionary<string, double> metrics, long step)
        {
            foreach (string key in metrics.Keys.Order(StringComparer.Ordinal)) Points.Add((key, step));
        }
        public void Flush() { }
        public void Dispose() { }
    }
}
