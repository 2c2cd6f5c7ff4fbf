using Tessera.Data;
using Tessera.Training;
using Tessera.Training.Schedules;
using Tessera.Transformers;
using TorchSharp;
using TorchSharp.Utils;
using static TorchSharp.torch;

namespace Tessera.Tasks;

/// <summary>
/// Trains a <see cref="CausalLanguageModel"/> on blocks of token ids: a <see cref="Batch"/> whose inputs and targets
/// are the same [batch, block] int64 ids (the loss shifts them by one). Logs <c>train_loss</c> and <c>val_loss</c>;
/// validation perplexity is <c>exp(val_loss)</c>. AdamW with linear warmup and cosine decay, as nanoGPT.
/// </summary>
public sealed class CausalLMModule : TrainingModule
{
    [ComponentName(Name = "model")] readonly CausalLanguageModel model;

    /// <summary>Wraps <paramref name="model"/>.</summary>
    /// <param name="model">The model to train; it stays owned by the caller.</param>
    /// <param name="learningRate">Peak learning rate.</param>
    /// <param name="totalSteps">Optimizer steps of the run (for the cosine schedule).</param>
    /// <param name="warmupSteps">Linear warmup steps.</param>
    /// <param name="weightDecay">AdamW weight decay.</param>
    public CausalLMModule(CausalLanguageModel model, double learningRate, long totalSteps, long warmupSteps, double weightDecay = 0.1) : base(nameof(CausalLMModule))
    {
        this.model = model ?? throw new ArgumentNullException(nameof(model));
        LearningRate = learningRate;
        TotalSteps = totalSteps;
        WarmupSteps = warmupSteps;
        WeightDecay = weightDecay;
        RegisterComponents();
    }

    /// <summary>The model being trained.</summary>
    public CausalLanguageModel Model => model;

    /// <summary>Peak learning rate.</summary>
    public double LearningRate { get; }

    /// <summary>Steps of the cosine schedule.</summary>
    public long TotalSteps { get; }

    /// <summary>Warmup steps.</summary>
    public long WarmupSteps { get; }

    /// <summary>AdamW weight decay.</summary>
    public double WeightDecay { get; }

    /// <inheritdoc />
    public override Tensor TrainingStep(Batch batch, int batchIndex)
    {
        Tensor loss = Loss(batch);
        Log("train_loss", loss, batch.Size, progressBar: true);
        return loss;
    }

    /// <inheritdoc />
    public override void ValidationStep(Batch batch, int batchIndex) => Log("val_loss", Loss(batch), batch.Size, progressBar: true);

    Tensor Loss(Batch batch)
    {
        CausalLMOutput output = model.forward(batch.Inputs, useCache: false);
        return CausalLanguageModel.CausalLMLoss(output.Logits, batch.Targets);
    }

    /// <inheritdoc />
    public override OptimizerConfig ConfigureOptimizers() => new(
        optim.AdamW(parameters(), LearningRate, beta1: 0.9, beta2: 0.95, weight_decay: WeightDecay),
        new WarmupCosineSchedule(LearningRate, WarmupSteps, TotalSteps, LearningRate / 10));

    /// <inheritdoc />
    public override IReadOnlyDictionary<string, object?> Hyperparameters => new Dictionary<string, object?>
    {
        ["learning_rate"] = LearningRate, ["total_steps"] = TotalSteps, ["warmup_steps"] = WarmupSteps, ["weight_decay"] = WeightDecay,
    };
}
