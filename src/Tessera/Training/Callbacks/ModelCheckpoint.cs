using System.Globalization;
using System.Text.RegularExpressions;

namespace Tessera.Training.Callbacks;

/// <summary>
/// Saves trainer checkpoints (see <see cref="TrainerCheckpoint"/>): the best <c>SaveTopK</c> by a monitored metric,
/// and <c>last</c>, at the end of every epoch (or every N optimizer steps).
/// </summary>
public sealed partial class ModelCheckpoint : Callback
{
    readonly Dictionary<string, double> bestK = new();

    /// <summary>Creates the callback writing checkpoint folders into <paramref name="directory"/>.</summary>
    /// <param name="directory">Folder that holds the checkpoints.</param>
    /// <param name="monitor">Metric to rank by (e.g. <c>val_loss</c>); null keeps only <c>last</c> (and the newest when <paramref name="saveTopK"/> &gt; 0).</param>
    /// <param name="mode">Whether lower or higher is better.</param>
    /// <param name="saveTopK">How many best checkpoints to keep; 0 keeps none, -1 keeps all.</param>
    /// <param name="saveLast">Also keep the newest state as <c>last</c> (what <c>--resume</c> uses).</param>
    /// <param name="everyNTrainSteps">Save every this many optimizer steps instead of at epoch ends.</param>
    /// <param name="filename">Folder name template; <c>{epoch}</c>, <c>{step}</c> and <c>{metric_name}</c> are replaced.</param>
    public ModelCheckpoint(string directory, string? monitor = null, MonitorMode mode = MonitorMode.Min, int saveTopK = 1,
        bool saveLast = true, int? everyNTrainSteps = null, string filename = "epoch={epoch}-step={step}")
    {
        if (saveTopK < -1) throw new ArgumentOutOfRangeException(nameof(saveTopK), "saveTopK must be -1, 0 or positive");
        if (everyNTrainSteps is <= 0) throw new ArgumentOutOfRangeException(nameof(everyNTrainSteps), "everyNTrainSteps must be positive");
        Directory = directory;
        Monitor = monitor;
        Mode = mode;
        SaveTopK = saveTopK;
        SaveLast = saveLast;
        EveryNTrainSteps = everyNTrainSteps;
        Filename = filename;
    }

    /// <summary>Folder holding the checkpoints.</summary>
    public string Directory { get; }
    /// <summary>Metric ranked by, if any.</summary>
    public string? Monitor { get; }
    /// <summary>Whether lower or higher is better.</summary>
    public MonitorMode Mode { get; }
    /// <summary>How many best checkpoints are kept.</summary>
    public int SaveTopK { get; }
    /// <summary>Whether <c>last</c> is kept.</summary>
    public bool SaveLast { get; }
    /// <summary>Step interval, when saving by steps.</summary>
    public int? EveryNTrainSteps { get; }
    /// <summary>Folder name template.</summary>
    public string Filename { get; }

    /// <summary>Path of the best checkpoint so far, or null.</summary>
    public string? BestModelPath { get; private set; }
    /// <summary>Score of the best checkpoint so far (NaN before any).</summary>
    public double BestModelScore { get; private set; } = double.NaN;
    /// <summary>Path of the <c>last</c> checkpoint.</summary>
    public string LastModelPath => Path.Combine(Directory, "last");
    /// <summary>The kept top-k checkpoints and their scores.</summary>
    public IReadOnlyDictionary<string, double> BestKModels => bestK;

    /// <inheritdoc />
    public override void OnTrainEpochEnd(Trainer trainer, TrainingModuleBase module)
    {
        if (EveryNTrainSteps is null) Save(trainer);
    }

    /// <inheritdoc />
    public override void OnTrainBatchEnd(Trainer trainer, TrainingModuleBase module, double loss, int batchIndex, long batchSize)
    {
        if (EveryNTrainSteps is int n && trainer.GlobalStep > 0 && trainer.GlobalStep % n == 0 && batchIndex + 1 < trainer.TrainBatchesPerEpoch)
            Save(trainer);
    }

    /// <summary>Saves now, applying the top-k and last rules.</summary>
    public void Save(Trainer trainer)
    {
        if (SaveTopK != 0)
        {
            double score = Monitor is null ? trainer.GlobalStep : MonitoredMetric.Read(trainer, Monitor, nameof(ModelCheckpoint));
            var mode = Monitor is null ? MonitorMode.Max : Mode;
            if (SaveTopK == -1 || bestK.Count < SaveTopK || MonitoredMetric.Improves(score, Worst(mode).Score, mode))
            {
                string path = Path.Combine(Directory, FormatName(trainer));
                TrainerCheckpoint.Save(trainer, path);
                bestK[path] = score;
                if (SaveTopK > 0 && bestK.Count > SaveTopK)
                {
                    var worst = Worst(mode).Path;
                    bestK.Remove(worst);
                    if (worst != path && System.IO.Directory.Exists(worst)) System.IO.Directory.Delete(worst, recursive: true);
                }
                var best = mode == MonitorMode.Min ? bestK.MinBy(kv => kv.Value) : bestK.MaxBy(kv => kv.Value);
                BestModelPath = best.Key;
                BestModelScore = best.Value;
            }
        }
        if (SaveLast) TrainerCheckpoint.Save(trainer, LastModelPath);
    }

    (string Path, double Score) Worst(MonitorMode mode)
    {
        if (bestK.Count == 0) return ("", double.NaN);
        var worst = mode == MonitorMode.Min ? bestK.MaxBy(kv => kv.Value) : bestK.MinBy(kv => kv.Value);
        return (worst.Key, worst.Value);
    }

    string FormatName(Trainer trainer)
    {
        int epoch = trainer.CurrentEpoch;
        return Placeholder().Replace(Filename, m => m.Groups[1].Value switch
        {
            "epoch" => epoch.ToString(CultureInfo.InvariantCulture),
            "step" => trainer.GlobalStep.ToString(CultureInfo.InvariantCulture),
            var name when trainer.CallbackMetrics.TryGetValue(name, out var v) => $"{name}={v.ToString("0.0000", CultureInfo.InvariantCulture)}",
            var name => throw new InvalidOperationException($"ModelCheckpoint filename '{Filename}' uses '{{{name}}}', which is neither epoch, step nor a logged metric"),
        });
    }

    [GeneratedRegex(@"\{([A-Za-z0-9_./-]+)\}")]
    private static partial Regex Placeholder();

    /// <inheritdoc />
    public override string StateKey => $"ModelCheckpoint[{Monitor ?? "none"}]";

    /// <inheritdoc />
    public override IReadOnlyDictionary<string, string>? StateDict()
    {
        var state = new Dictionary<string, string>
        {
            ["best_model_path"] = BestModelPath ?? "",
            ["best_model_score"] = BestModelScore.ToString("R", CultureInfo.InvariantCulture),
        };
        int i = 0;
        foreach (var (path, score) in bestK) state[$"best_k.{i++}"] = $"{score.ToString("R", CultureInfo.InvariantCulture)}|{path}";
        return state;
    }

    /// <inheritdoc />
    public override void LoadStateDict(IReadOnlyDictionary<string, string> state)
    {
        bestK.Clear();
        BestModelPath = state.TryGetValue("best_model_path", out var p) && p.Length > 0 ? p : null;
        BestModelScore = state.TryGetValue("best_model_score", out var s) ? double.Parse(s, CultureInfo.InvariantCulture) : double.NaN;
        foreach (var (key, value) in state)
        {
            if (!key.StartsWith("best_k.", StringComparison.Ordinal)) continue;
            int bar = value.IndexOf('|');
            if (bar > 0 && System.IO.Directory.Exists(value[(bar + 1)..]))
                bestK[value[(bar + 1)..]] = double.Parse(value[..bar], CultureInfo.InvariantCulture);
        }
    }
}
