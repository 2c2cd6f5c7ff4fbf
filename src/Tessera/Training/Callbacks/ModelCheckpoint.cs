using System.Globalization;
using System.Text.RegularExpressions;

namespace Tessera.Training.Callbacks;

/// <summary>
/// Saves trainer checkpoints (see <see cref="TrainerCheckpoint"/>): the best <c>SaveTopK</c> by a monitored metric,
/// and <c>last</c>, at the end of every epoch (or every N optimizer steps).
/// </summary>
public sealed partial class ModelCheckpoint : Callback
{
    readonly Dictionary<string, double> bestK = new(); // folder name inside Directory -> score

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
    public IReadOnlyDictionary<string, double> BestKModels => bestK.ToDictionary(kv => Path.Combine(Directory, kv.Key), kv => kv.Value);

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
                string name = FormatName(trainer);
                if (CheckpointName(name) is null)
                    throw new InvalidOperationException($"ModelCheckpoint filename '{Filename}' gives '{name}', which is not a plain folder name");
                TrainerCheckpoint.Save(trainer, Path.Combine(Directory, name));
                bestK[name] = score;
                if (SaveTopK > 0 && bestK.Count > SaveTopK)
                {
                    string worst = Worst(mode).Name;
                    bestK.Remove(worst);
                    if (worst != name && trainer.IsGlobalZero) DeleteCheckpoint(worst);
                }
                var best = mode == MonitorMode.Min ? bestK.MinBy(kv => kv.Value) : bestK.MaxBy(kv => kv.Value);
                BestModelPath = Path.Combine(Directory, best.Key);
                BestModelScore = best.Value;
            }
        }
        if (SaveLast) TrainerCheckpoint.Save(trainer, LastModelPath);
    }

    /// <summary>
    /// Deletes the kept checkpoint <paramref name="name"/>: only a folder directly inside <see cref="Directory"/> that
    /// holds a trainer state, so a hand-edited or copied state file can never make it delete anything else.
    /// </summary>
    void DeleteCheckpoint(string name)
    {
        if (CheckpointName(name) is null) return;
        string path = Path.Combine(Directory, name);
        if (System.IO.Directory.Exists(path) && File.Exists(Path.Combine(path, TrainerCheckpoint.StateFile)))
            System.IO.Directory.Delete(path, recursive: true);
    }

    /// <summary><paramref name="name"/> when it is a single folder name (no separators, not <c>.</c>/<c>..</c>, not <c>last</c>), else null.</summary>
    static string? CheckpointName(string name) =>
        name.Length > 0 && name is not ("." or ".." or "last") && name.IndexOfAny(['/', '\\', '\0']) < 0 && !Path.IsPathRooted(name) ? name : null;

    (string Name, double Score) Worst(MonitorMode mode)
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
            // Folder names relative to Directory: a copied or moved run resumes with its own checkpoints.
            ["best_model_path"] = BestModelPath is null ? "" : Path.GetFileName(BestModelPath),
            ["best_model_score"] = BestModelScore.ToString("R", CultureInfo.InvariantCulture),
        };
        int i = 0;
        foreach (var (name, score) in bestK) state[$"best_k.{i++}"] = $"{score.ToString("R", CultureInfo.InvariantCulture)}|{name}";
        return state;
    }

    /// <inheritdoc />
    /// <remarks>
    /// Entries are folder names inside <see cref="Directory"/>. Anything else (an absolute path, <c>..</c>, a path
    /// written by an older version that points outside this run's checkpoints) is dropped, never followed, and never
    /// deleted later; so are entries whose folder no longer holds a checkpoint.
    /// </remarks>
    /// <exception cref="FormatException">A score is not a number.</exception>
    public override void LoadStateDict(IReadOnlyDictionary<string, string> state)
    {
        bestK.Clear();
        BestModelPath = null;
        BestModelScore = double.NaN;
        foreach (var (key, value) in state)
        {
            if (!key.StartsWith("best_k.", StringComparison.Ordinal)) continue;
            int bar = value.IndexOf('|');
            if (bar <= 0) continue;
            double score = ParseScore(key, value[..bar]);
            if (OwnCheckpoint(value[(bar + 1)..]) is string name) bestK[name] = score;
        }
        if (state.TryGetValue("best_model_path", out var p) && OwnCheckpoint(p) is string best && bestK.ContainsKey(best))
        {
            BestModelPath = Path.Combine(Directory, best);
            BestModelScore = state.TryGetValue("best_model_score", out var s) ? ParseScore("best_model_score", s) : bestK[best];
        }
    }

    static double ParseScore(string field, string text) =>
        double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out double v) ? v
            : throw new FormatException($"'{field}' must be a number, got '{text}'");

    /// <summary>
    /// The folder name of a saved entry when it names a checkpoint of this run: a plain name, or (from older versions)
    /// an absolute path directly inside <see cref="Directory"/>; the folder must hold a trainer state.
    /// </summary>
    string? OwnCheckpoint(string entry)
    {
        string? name = CheckpointName(entry);
        if (name is null && Path.IsPathRooted(entry)
            && string.Equals(Path.GetDirectoryName(Path.GetFullPath(entry)), Path.GetFullPath(Directory), StringComparison.Ordinal))
            name = CheckpointName(Path.GetFileName(Path.GetFullPath(entry)));
        return name is not null && File.Exists(Path.Combine(Directory, name, TrainerCheckpoint.StateFile)) ? name : null;
    }
}
