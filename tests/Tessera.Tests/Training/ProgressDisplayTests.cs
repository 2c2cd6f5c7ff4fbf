using System.Globalization;
using Tessera.Training;
using Tessera.Training.Callbacks;

namespace Tessera.Tests.Training;

public class ProgressDisplayTests
{
    sealed class LossRecorder : Callback
    {
        public readonly List<(double Loss, long Size)> Losses = [];
        public override void OnTrainBatchEnd(Trainer trainer, TrainingModuleBase module, double loss, int batchIndex, long batchSize) => Losses.Add((loss, batchSize));
    }

    static double TrainLoss(string line)
    {
        string[] parts = line.Split("  ", StringSplitOptions.RemoveEmptyEntries);
        string field = parts.Single(p => p.StartsWith("train_loss ", StringComparison.Ordinal));
        return double.Parse(field["train_loss ".Length..], CultureInfo.InvariantCulture);
    }

    [Fact]
    public void The_epoch_line_shows_the_epoch_mean_training_loss_not_the_last_batch()
    {
        var output = new StringWriter();
        var recorder = new LossRecorder();
        using var module = new TinyClassifier(21);
        new Trainer(new TrainerOptions { MaxEpochs = 1, Seed = 1, Callbacks = [recorder, new ProgressDisplay(plain: true, output: output)] })
            .Fit(module, new ListLoader(70, 16, true), new ListLoader(16, 16, false)); // a short last batch: weights matter
        double mean = recorder.Losses.Sum(l => l.Loss * l.Size) / recorder.Losses.Sum(l => l.Size);
        double shown = TrainLoss(output.ToString().Trim());
        Assert.Equal(Math.Round(mean, 4), shown, 4);
        Assert.NotEqual(Math.Round(recorder.Losses[^1].Loss, 4), shown);
    }

    [Fact]
    public void Validation_inside_an_epoch_prints_a_plain_line_with_the_unit_asked_for()
    {
        var output = new StringWriter();
        using var module = new TinyClassifier(22);
        new Trainer(new TrainerOptions { MaxEpochs = null, MaxSteps = 4, Seed = 1, ValCheckIntervalBatches = 2,
                Callbacks = [new ProgressDisplay(plain: true, output: output, unit: "tokens", unitsPerExample: 4)] })
            .Fit(module, new ListLoader(160, 16, true), new ListLoader(16, 16, false));
        var lines = output.ToString().Trim().Split('\n');
        Assert.True(lines.Length >= 2, output.ToString());
        Assert.StartsWith("epoch 1 step 2", lines[0]);
        Assert.Contains("val_loss", lines[0]);
        Assert.All(lines, l => Assert.Contains("tokens/s", l));
        Assert.DoesNotContain("img/s", output.ToString());
    }
}
