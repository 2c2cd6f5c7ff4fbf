using System.Globalization;

namespace Tessera.Training.Callbacks;

/// <summary>Stops training once a monitored metric has gone <see cref="Patience"/> validation runs without improving (Lightning's rule).</summary>
public sealed class EarlyStopping : Callback
{
    /// <summary>Creates the callback.</summary>
    /// <param name="monitor">Metric to watch, e.g. <c>val_loss</c>.</param>
    /// <param name="patience">Validation runs without improvement before stopping (default 3).</param>
    /// <param name="mode">Whether lower or higher is better.</param>
    /// <param name="minDelta">Smallest change that counts as an improvement.</param>
    public EarlyStopping(string monitor, int patience = 3, MonitorMode mode = MonitorMode.Min, double minDelta = 0)
    {
        if (patience < 0) throw new ArgumentOutOfRangeException(nameof(patience), "patience must be >= 0");
        Monitor = monitor;
        Patience = patience;
        Mode = mode;
        MinDelta = Math.Abs(minDelta);
    }

    /// <summary>Metric watched.</summary>
    public string Monitor { get; }
    /// <summary>Validation runs without improvement allowed.</summary>
    public int Patience { get; }
    /// <summary>Whether lower or higher is better.</summary>
    public MonitorMode Mode { get; }
    /// <summary>Smallest improvement.</summary>
    public double MinDelta { get; }
    /// <summary>Best value seen.</summary>
    public double BestScore { get; private set; } = double.NaN;
    /// <summary>Validation runs since the last improvement.</summary>
    public int WaitCount { get; private set; }
    /// <summary>Epoch at which this callback stopped training, or null.</summary>
    public int? StoppedEpoch { get; private set; }

    /// <inheritdoc />
    public override void OnValidationEnd(Trainer trainer, TrainingModuleBase module)
    {
        if (trainer.Stage != TrainerStage.Validating || trainer.Module is null || trainer.Optimizer is null) return;
        double value = MonitoredMetric.Read(trainer, Monitor, nameof(EarlyStopping));
        if (MonitoredMetric.Improves(value, BestScore, Mode, MinDelta))
        {
            BestScore = value;
            WaitCount = 0;
            return;
        }
        if (double.IsNaN(value) || ++WaitCount >= Patience)
        {
            StoppedEpoch = trainer.CurrentEpoch;
            trainer.ShouldStop = true;
        }
    }

    /// <inheritdoc />
    public override string StateKey => $"EarlyStopping[{Monitor}]";

    /// <inheritdoc />
    public override IReadOnlyDictionary<string, string>? StateDict() => new Dictionary<string, string>
    {
        ["best_score"] = BestScore.ToString("R", CultureInfo.InvariantCulture),
        ["wait_count"] = WaitCount.ToString(CultureInfo.InvariantCulture),
    };

    /// <inheritdoc />
    public override void LoadStateDict(IReadOnlyDictionary<string, string> state)
    {
        if (state.TryGetValue("best_score", out var b)) BestScore = double.Parse(b, CultureInfo.InvariantCulture);
        if (state.TryGetValue("wait_count", out var w)) WaitCount = int.Parse(w, CultureInfo.InvariantCulture);
    }
}
