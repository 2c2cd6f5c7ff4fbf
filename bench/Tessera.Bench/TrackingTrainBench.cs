using System.Diagnostics;
using Tessera.Data;
using Tessera.Models;
using Tessera.Tasks;
using Tessera.Training;
using Tessera.Training.Loggers;
using Tessera.Tracking.Runs;
using static TorchSharp.torch;
using static Tessera.Bench.BenchStats;

namespace Tessera.Bench;

/// <summary>
/// Training throughput with the runs store on vs off (target: on >= 0.98x off). The cnn on Fashion-MNIST through
/// the Trainer, metrics sent to the loggers at every step (<c>LogEveryNSteps = 1</c>, the store's worst case); "on"
/// adds a <see cref="RunLogger"/> writing live into a store file, "off" has no logger. Rounds interleave off, on,
/// off, on, ... so machine drift hits both; besides images/s the bench reports the time the training thread spent
/// inside the store logger's calls, which the noise of a shared machine does not blur.
/// </summary>
static class TrackingTrainBench
{
    const int BatchSize = 128, Warmup = 20;

    public static object Run(int threads, int batches, int rounds)
    {
        set_num_threads(threads);
        using var data = FashionMnist.Load(train: true);
        using var images = ((data.Inputs - FashionMnist.Mean) / FashionMnist.Std).contiguous();
        using var normalized = new TensorDataset(images, data.Targets);
        string dir = Directory.CreateTempSubdirectory("tessera-bench-track-train-").FullName;
        try
        {
            var off = new List<double>();
            var on = new List<double>();
            var inLogger = new List<double>();
            long points = 0;
            using var store = RunStore.Open(Path.Combine(dir, "runs.db"));
            for (int r = 0; r < rounds; r++)
            {
                off.Add(Train(normalized, batches, r, null).ImagesPerSecond);
                using var run = store.StartRun(new RunStartOptions { Experiment = "bench", Name = $"round-{r}" });
                var timed = new TimedLogger(new RunLogger(run));
                var result = Train(normalized, batches, r, timed);
                run.End();
                on.Add(result.ImagesPerSecond);
                inLogger.Add(timed.Elapsed.TotalSeconds / result.Seconds);
                points += store.GetMetricHistory(run.Id).Count;
                Console.WriteLine($"round {r + 1}: off {off[^1]:0} img/s, on {on[^1]:0} img/s ({on[^1] / off[^1]:0.000}x), training thread in the store logger {inLogger[^1] * 100:0.000}% of the timed steps");
            }
            double offMedian = Median(off), onMedian = Median(on);
            var pairRatios = on.Zip(off, (a, b) => a / b).ToList();
            PrintTable([$"cnn, batch {BatchSize}, {threads} threads, {batches} timed steps, metrics every step", $"images/s (median of {rounds})", "ratio"],
                ["store off (no logger)", $"{offMedian:0}", "1.000"],
                ["store on (RunLogger, live)", $"{onMedian:0}", $"{onMedian / offMedian:0.000} (median of per-round ratios {Median(pairRatios):0.000})"]);
            Console.WriteLine($"time in the store logger on the training thread: median {Median(inLogger) * 100:0.000}% of the timed steps; {points:N0} points stored over {rounds} runs");
            return new { threads, batches, rounds, batch_size = BatchSize, off_images_per_second = offMedian, on_images_per_second = onMedian,
                ratio = onMedian / offMedian, pair_ratios = pairRatios, logger_fraction = inLogger, off_rounds = off, on_rounds = on, points };
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    static (double ImagesPerSecond, double Seconds) Train(TensorDataset data, int batches, int round, IMetricsLogger? logger)
    {
        manual_seed(round);
        using var model = new Cnn(new CnnConfig());
        using var module = new ImageClassifier(model);
        var timer = new BatchTimer(Warmup);
        var loader = new DataLoader<Batch>(data, new DataLoaderOptions { BatchSize = BatchSize, Shuffle = true, Seed = round });
        new Trainer(new TrainerOptions
        {
            MaxEpochs = 1, LimitTrainBatches = Warmup + batches, LogEveryNSteps = 1, Callbacks = [timer],
            Loggers = logger is null ? [] : [logger],
        }).Fit(module, loader);
        logger?.Dispose();
        return (batches * BatchSize / timer.Elapsed.TotalSeconds, timer.Elapsed.TotalSeconds);
    }

    /// <summary>Times every call into the wrapped logger (made on the training thread).</summary>
    sealed class TimedLogger(IMetricsLogger inner) : IMetricsLogger
    {
        readonly Stopwatch clock = new();
        public TimeSpan Elapsed => clock.Elapsed;
        public void LogHyperparameters(IReadOnlyDictionary<string, object?> hyperparameters) => Timed(() => inner.LogHyperparameters(hyperparameters));
        public void LogMetrics(IReadOnlyDictionary<string, double> metrics, long step) => Timed(() => inner.LogMetrics(metrics, step));
        public void Flush() => Timed(inner.Flush);
        public void OnResume(long step) => inner.OnResume(step);
        public void Dispose() => inner.Dispose();

        void Timed(Action action)
        {
            clock.Start();
            try { action(); }
            finally { clock.Stop(); }
        }
    }
}
