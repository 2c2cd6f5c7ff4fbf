using Tessera.Tests.Shared;
using Tessera.Training;
using Tessera.Training.Callbacks;
using Tessera.Training.Loggers;
using Tessera.Training.Schedules;
using Tessera.Tracking.TensorBoard;

namespace Tessera.Tests.Training;

public class CallbackAndLoggerTests : IDisposable
{
    private readonly TempDirectory temp = new("tessera-callbacks-");
    public void Dispose() => temp.Dispose();

    [Fact]
    public void Plain_progress_prints_one_line_per_epoch_with_validation_metrics()
    {
        var output = new StringWriter();
        using var module = new TinyClassifier(11);
        new Trainer(new TrainerOptions { MaxEpochs = 2, Callbacks = [new ProgressDisplay(plain: true, output: output)] })
            .Fit(module, new ListLoader(64, 16, true), new ListLoader(32, 16, false));
        var lines = output.ToString().Trim().Split('\n');
        Assert.Equal(2, lines.Length);
        Assert.StartsWith("epoch 1/2", lines[0]);
        Assert.StartsWith("epoch 2/2", lines[1]);
        Assert.All(lines, l => Assert.Contains("val_acc", l));
        Assert.All(lines, l => Assert.Contains("img/s", l));
    }

    [Fact]
    public void Learning_rate_monitor_logs_the_scheduled_rate_to_csv_and_tensorboard()
    {
        string csvPath = temp.File("metrics.csv");
        string events = Path.Combine(temp.Path, "events");
        using var module = new TinyClassifier(12) { MakeSchedule = _ => new WarmupCosineSchedule(0.1, 2, 8) };
        using (var csv = new CsvLogger(csvPath))
        using (var tb = new TensorBoardLogger(events))
            new Trainer(new TrainerOptions { MaxEpochs = 2, LogEveryNSteps = 1, Callbacks = [new LearningRateMonitor()], Loggers = [csv, tb] })
                .Fit(module, new ListLoader(64, 16, false), new ListLoader(32, 16, false));

        // The rate in force for step s is schedule(s - 1): the monitor logs after the optimizer stepped.
        var schedule = new WarmupCosineSchedule(0.1, 2, 8);
        var scalars = TensorBoardEventReader.ReadScalars(Directory.GetFiles(events).Single());
        var lrs = scalars.Where(s => s.Tag == "lr-Adam").ToList();
        Assert.Equal(8, lrs.Count);
        foreach (var s in lrs) Assert.Equal(schedule.LearningRate(s.Step - 1), s.Value, 6);
        Assert.Contains(scalars, s => s.Tag == "val_acc");
        Assert.Contains(scalars, s => s.Tag == "train_loss");

        var header = File.ReadLines(csvPath).First().Split(',');
        Assert.Equal("step", header[0]);
        Assert.Contains("train_loss", header);
        Assert.Contains("val_loss", header);
        Assert.Contains("lr-Adam", header);
        Assert.True(File.Exists(Path.Combine(temp.Path, "hparams.json")));
    }

    [Fact]
    public void TensorBoard_logger_ends_with_the_hparams_summaries_after_the_scalars()
    {
        string events = Path.Combine(temp.Path, "hparams-events");
        using (var tb = new TensorBoardLogger(events))
        {
            tb.LogHyperparameters(new Dictionary<string, object?> { ["lr"] = 0.01, ["model"] = "cnn" });
            tb.LogMetrics(new Dictionary<string, double> { ["val_acc"] = 0.5 }, 3);
        }
        var tags = TensorBoardEventReader.ReadEvents(Directory.GetFiles(events).Single()).SelectMany(e => e.Values.Select(v => v.Tag)).ToList();
        Assert.Equal(["hparams", "val_acc", "_hparams_/experiment", "_hparams_/session_start_info", "_hparams_/session_end_info"], tags);
    }
}
