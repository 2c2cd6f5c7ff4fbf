using System.Diagnostics;
using System.Globalization;
using Spectre.Console;

namespace Tessera.Training.Callbacks;

/// <summary>
/// Shows training progress: a live Spectre.Console bar (loss, images/s, ETA) in a terminal, or one plain line per
/// epoch when output is redirected or <c>CI=true</c>.
/// </summary>
public sealed class ProgressDisplay : Callback
{
    readonly TextWriter plainOut;
    readonly Stopwatch epochClock = new();
    long epochExamples;
    TimeSpan trainElapsed; // up to the last training batch, so validation time does not dilute throughput
    double lastLoss = double.NaN;
    LiveBar? live;

    /// <summary>Creates the display; <paramref name="plain"/> forces plain lines (default: detect terminal and CI).</summary>
    public ProgressDisplay(bool? plain = null, TextWriter? output = null)
    {
        plainOut = output ?? Console.Out;
        Plain = plain ?? (output is not null || Console.IsOutputRedirected
            || string.Equals(Environment.GetEnvironmentVariable("CI"), "true", StringComparison.OrdinalIgnoreCase));
    }

    /// <summary>True when printing one line per epoch instead of a live bar.</summary>
    public bool Plain { get; }

    /// <summary>Training throughput of the last finished (or current) epoch in examples per second (validation time excluded).</summary>
    public double ExamplesPerSecond => trainElapsed.TotalSeconds > 0 ? epochExamples / trainElapsed.TotalSeconds : 0;

    /// <inheritdoc />
    public override void OnTrainEpochStart(Trainer trainer, TrainingModuleBase module)
    {
        epochExamples = 0;
        trainElapsed = TimeSpan.Zero;
        epochClock.Restart();
        if (!Plain)
        {
            live ??= LiveBar.Start();
            live.NewEpoch(EpochLabel(trainer), trainer.TrainBatchesPerEpoch, trainer.BatchIndex);
        }
    }

    /// <inheritdoc />
    public override void OnTrainBatchEnd(Trainer trainer, TrainingModuleBase module, double loss, int batchIndex, long batchSize)
    {
        epochExamples += batchSize;
        trainElapsed = epochClock.Elapsed;
        lastLoss = loss;
        live?.Advance($"{EpochLabel(trainer)} loss {loss:0.0000} {ExamplesPerSecond:0} img/s");
    }

    /// <inheritdoc />
    public override void OnTrainEpochEnd(Trainer trainer, TrainingModuleBase module)
    {
        epochClock.Stop();
        string metrics = string.Join("  ", trainer.CallbackMetrics
            .Where(kv => kv.Key.StartsWith("val_", StringComparison.Ordinal) || kv.Key.EndsWith("_epoch", StringComparison.Ordinal))
            .OrderBy(kv => kv.Key, StringComparer.Ordinal)
            .Select(kv => $"{kv.Key} {kv.Value.ToString("0.0000", CultureInfo.InvariantCulture)}"));
        string line = string.Create(CultureInfo.InvariantCulture,
            $"{EpochLabel(trainer)}  train_loss {lastLoss:0.0000}  {metrics}  {ExamplesPerSecond:0} img/s  {epochClock.Elapsed.TotalSeconds:0.0}s");
        if (live is not null) live.Finish(line);
        else plainOut.WriteLine(line.Replace("    ", "  "));
    }

    /// <inheritdoc />
    public override void OnFitEnd(Trainer trainer, TrainingModuleBase module)
    {
        live?.Dispose();
        live = null;
    }

    static string EpochLabel(Trainer trainer) =>
        trainer.Options.MaxEpochs is int max ? $"epoch {trainer.CurrentEpoch + 1}/{max}" : $"epoch {trainer.CurrentEpoch + 1} step {trainer.GlobalStep}";

    /// <summary>A Spectre progress context rendering on its own thread while training calls in from the loop.</summary>
    sealed class LiveBar : IDisposable
    {
        readonly ManualResetEventSlim ready = new(), done = new();
        readonly object gate = new();
        ProgressContext? context;
        ProgressTask? task;
        Thread? thread;

        public static LiveBar Start()
        {
            var bar = new LiveBar();
            bar.thread = new Thread(() => AnsiConsole.Progress()
                .AutoClear(false)
                .Columns(new TaskDescriptionColumn { Alignment = Justify.Left }, new ProgressBarColumn(),
                    new PercentageColumn(), new RemainingTimeColumn(), new ElapsedTimeColumn())
                .Start(ctx =>
                {
                    bar.context = ctx;
                    bar.ready.Set();
                    bar.done.Wait();
                    ctx.Refresh();
                })) { IsBackground = true, Name = "tessera-progress" };
            bar.thread.Start();
            bar.ready.Wait();
            return bar;
        }

        public void NewEpoch(string label, int batches, int startAt)
        {
            lock (gate)
            {
                task = context!.AddTask(Markup.Escape(label), maxValue: batches);
                task.Value = startAt;
            }
        }

        public void Advance(string description)
        {
            lock (gate)
            {
                if (task is null) return;
                task.Increment(1);
                task.Description = Markup.Escape(description);
            }
        }

        public void Finish(string summary)
        {
            lock (gate)
            {
                if (task is null) return;
                task.Description = Markup.Escape(summary);
                task.Value = task.MaxValue;
                task.StopTask();
                task = null;
            }
        }

        public void Dispose()
        {
            done.Set();
            thread?.Join();
            ready.Dispose();
            done.Dispose();
        }
    }
}
