using System.Globalization;
using System.Text;
using Tessera.Adapters;
using Tessera.Training;
using Tessera.Training.Callbacks;
using Tessera.Training.Loggers;
using static TorchSharp.torch;

namespace Tessera.Recipes;

/// <summary>What the fine-tuning recipes (<see cref="LoraFinetuning"/>, <see cref="ClassifierFinetuning"/>) set up alike.</summary>
internal static class FinetuningSetup
{
    /// <summary>Checks the step, batch and block settings and seeds libtorch.</summary>
    /// <exception cref="ArgumentException">A setting is out of range.</exception>
    public static void ValidateAndSeed(LoraFinetuningOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (options.MaxSteps < 1) throw new ArgumentException("--max-steps must be at least 1");
        if (options.BatchSize < 1 || options.BlockSize < 2) throw new ArgumentException("--batch-size must be at least 1 and --block-size at least 2");
        manual_seed(options.Seed);
    }

    /// <summary>The strategy the options ask for (one process when none).</summary>
    public static TrainingStrategy Strategy(LoraFinetuningOptions options) => options.Strategy ?? SingleProcessStrategy.Instance;

    /// <summary>
    /// Creates the output folder (rank 0 only; the others wait for it) and finds the checkpoint to resume from.
    /// </summary>
    /// <exception cref="FileNotFoundException">--resume without a checkpoint.</exception>
    public static (string OutDir, string Checkpoints, string? ResumeFrom) PrepareOutput(LoraFinetuningOptions options)
    {
        var strategy = Strategy(options);
        string outDir = strategy.IsGlobalZero ? RunOutput.Prepare(options.OutputDir, options.Resume, options.Overwrite) : Path.GetFullPath(options.OutputDir);
        strategy.Group.Barrier(); // the folder is ready (or rank 0 failed and ended the group)
        string checkpoints = Path.Combine(outDir, "checkpoints");
        string? resumeFrom = null;
        if (options.Resume)
        {
            resumeFrom = TrainerCheckpoint.FindResumable(checkpoints)
                ?? throw new FileNotFoundException($"--resume: no complete checkpoint in {checkpoints}", checkpoints);
        }
        return (outDir, checkpoints, resumeFrom);
    }

    /// <summary>The run's metrics.csv on rank 0; null on the other ranks, which write nothing.</summary>
    public static CsvLogger? Csv(LoraFinetuningOptions options, string outDir, bool resumed) =>
        Strategy(options).IsGlobalZero ? new CsvLogger(Path.Combine(outDir, "metrics.csv"), append: resumed) : null;

    /// <summary>Linear warm-up length: a tenth of the run, between 1 and 100 steps.</summary>
    public static long WarmupSteps(LoraFinetuningOptions options) => Math.Min(100, Math.Max(1, options.MaxSteps / 10));

    /// <summary>
    /// A step-bounded trainer with gradient clipping at 1, validation and a <c>last</c> checkpoint every
    /// <c>--validate-every</c> steps (the whole module, frozen base included, so a resumed run needs nothing else).
    /// </summary>
    public static Trainer CreateTrainer(LoraFinetuningOptions options, string checkpoints, CsvLogger? csv, IEnumerable<Callback> extraCallbacks, int? limitValBatches = null)
    {
        int every = Math.Max(1, options.ValidateEvery);
        return new Trainer(new TrainerOptions
        {
            MaxEpochs = null,
            MaxSteps = options.MaxSteps,
            GradientClipNorm = 1.0,
            ValCheckIntervalBatches = every,
            LimitValBatches = limitValBatches,
            Seed = options.Seed,
            Device = options.Device,
            Precision = options.Precision,
            LogEveryNSteps = (int)Math.Clamp(options.MaxSteps / 40, 1, 50),
            Callbacks = [.. extraCallbacks, new ModelCheckpoint(checkpoints, saveTopK: 0, everyNTrainSteps: every)],
            Loggers = csv is null ? [] : [csv],
            Strategy = Strategy(options),
        });
    }

    /// <summary>The model card's closing section: the adapter config as saved.</summary>
    public static StringBuilder AppendAdapterConfig(StringBuilder card, LoraConfig config) =>
        card.AppendLine("## adapter_config.json").AppendLine().AppendLine("```json").AppendLine((config with { InferenceMode = true }).ToJson()).AppendLine("```");

    /// <summary>"Trainable parameters: N of M (P%)." as the cards write it.</summary>
    public static string TrainableSentence(LoraFinetuningResult r) =>
        string.Create(CultureInfo.InvariantCulture, $"Trainable parameters: {r.TrainableParameters:N0} of {r.TotalParameters:N0} ({100.0 * r.TrainableParameters / r.TotalParameters:F3}%).");
}
