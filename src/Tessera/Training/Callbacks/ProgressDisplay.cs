using System.Diagnostics;
using System.Globalization;
using Spectre.Console;

namespace Tessera.Training.Callbacks;

/// <summary>
/// Shows training progress: a live Spectre.Console bar (loss, throughput, ETA) in a terminal, or plain lines when output
/// is redirected or <c>CI=true</c>: one per epoch, one after each validation inside an epoch, and, in long epochs, one
/// at least every <see cref="PlainInterval"/> so a log never goes quiet.
/// </summary>
public sealed class ProgressDisplay : Callback
{
    readonly TextWriter plainOut;
    readonly string unit;
    readonly long unitsPerExample;
    readonly Stopwatch epochClock = new();
    readonly Stopwatch sinceLine = new();
    long epochExamples;
    TimeSpan trainElapsed; // up to the last training batch, so validation time does not dilute throughput
    double lossSum, lossWeight; // since the epoch started
    long lastValidationLineStep = -1;
    LiveBar? live;

    /// <summary>Creates the display; <paramref name="plain"/> forces plain lines (default: detect terminal and CI).</summary>
    /// <param name="plain">Plain lines instead of a live bar; null detects a terminal and CI.</param>
    /// <param name="output">Where plain lines go (default: the console).</param>
    /// <param name="unit">What throughput counts, e.g. <c>img</c> or <c>tokens</c> (shown as <c>img/s</c>).</param>
    /// <param name="unitsPerExample">Units in one example of a batch (e.g. the block size when counting tokens).</param>
    public ProgressDisplay(bool? plain = null, TextWriter? output = null, string unit = "img", long unitsPerExample = 1)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(unit);
        ArgumentOutOfRangeException.ThrowIfLessThan(unitsPerExample, 1);
        plainOut = output ?? Console.Out;
        this.unit = unit;
        this.unitsPerExample = unitsPerExample;
        Plain = plain ?? (output is not null || Console.IsOutputRedirected
            || string.Equals(Environment.GetEnvironmentVariable("CI"), "true", StringComparison.OrdinalIgnoreCase));
    }

    /// <summary>True when printing plain lines instead of a live bar.</summary>
    public bool Plain { get; }

    /// <summary>The longest a plain log stays quiet during training (30 s).</summary>
    public static TimeSpan PlainInterval { get; } = TimeSpan.FromSeconds(30);

    /// <summary>Training throughput of the last finished (or current) epoch in examples per second (validation time excluded).</summary>
    public double ExamplesPerSecond => trainElapsed.TotalSeconds > 0 ? epochExamples / trainElapsed.TotalSeconds : 0;

    /// <summary>The mean training loss of the current (or last) epoch so far, weighted by batch size.</summary>
    public double EpochMeanLoss => lossWeight > 0 ? lossSum / lossWeight : double.NaN;

    double UnitsPerSecond => ExamplesPerSecond * unitsPerExample;

    /// <inheritdoc />
    public override void OnTrainEpochStart(Trainer trainer, TrainingModuleBase module)
    {
        epochExamples = 0;
        lossSum = lossWeight = 0;
        trainElapsed = TimeSpan.Zero;
        epochClock.Restart();
        sinceLine.Restart();
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
        if (double.IsFinite(loss))
        {
            lossSum += loss * batchSize;
            lossWeight += batchSize;
        }
        live?.Advance(string.Create(CultureInfo.InvariantCulture, $"{EpochLabel(trainer)} loss {loss:0.0000} {UnitsPerSecond:0} {unit}/s"));
        if (Plain && sinceLine.Elapsed >= PlainInterval) WritePlain(StatusLine(trainer, withValidation: false));
    }

    /// <inheritdoc />
    public override void OnValidationEnd(Trainer trainer, TrainingModuleBase module)
    {
        // Validation inside an epoch (step-based runs): report it now rather than at an epoch end that may be far away.
        if (Plain && trainer.Stage == TrainerStage.Validating && trainer.BatchIndex > 0 && trainer.BatchIndex < trainer.TrainBatchesPerEpoch
            && trainer.GlobalStep != lastValidationLineStep)
        {
            lastValidationLineStep = trainer.GlobalStep; // the trainer may validate twice at one step (interval, then end of fit)
            WritePlain(StatusLine(trainer, withValidation: true));
        }
    }

    /// <inheritdoc />
    public override void OnTrainEpochEnd(Trainer trainer, TrainingModuleBase module)
    {
        epochClock.Stop();
        string line = StatusLine(trainer, withValidation: true) + string.Create(CultureInfo.InvariantCulture, $"  {epochClock.Elapsed.TotalSeconds:0.0}s");
        if (live is not null) live.Finish(line);
        else WritePlain(line);
    }

    /// <summary>Label, mean training loss of the epoch so far, optionally the validation metrics, and throughput.</summary>
    string StatusLine(Trainer trainer, bool withValidation)
    {
        string metrics = withValidation
            ? string.Join("  ", trainer.CallbackMetrics
                .Where(kv => kv.Key.StartsWith("val_", StringComparison.Ordinal) || kv.Key.EndsWith("_epoch", StringComparison.Ordinal))
                .OrderBy(kv => kv.Key, StringComparer.Ordinal)
                .Select(kv => $"{kv.Key} {kv.Value.ToString("0.0000", CultureInfo.InvariantCulture)}"))
            : "";
        return string.Create(CultureInfo.InvariantCulture,
            $"{EpochLabel(trainer)}  train_loss {EpochMeanLoss:0.0000}{(metrics.Length > 0 ? "  " + metrics : "")}  {UnitsPerSecond:0} {unit}/s");
    }

    void WritePlain(string line)
    {
        plainOut.WriteLine(line);
        plainOut.Flush();
        sinceLine.Restart();
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
