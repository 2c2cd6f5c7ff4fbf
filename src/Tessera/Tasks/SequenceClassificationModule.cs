using Tessera.Data;
using Tessera.Training;
using Tessera.Training.Schedules;
using Tessera.Transformers;
using TorchSharp;
using TorchSharp.Utils;
using static TorchSharp.torch;

namespace Tessera.Tasks;

/// <summary>
/// Trains a <see cref="BertForSequenceClassification"/> on <see cref="ClassificationBatch"/>es with cross-entropy;
/// logs <c>train_loss</c>, <c>val_loss</c> and <c>val_acc</c>. AdamW over the parameters that require gradients
/// (so a LoRA-wrapped model trains its adapters and saved modules only), linear warmup and cosine decay.
/// </summary>
public sealed class SequenceClassificationModule : TrainingModule<ClassificationBatch>
{
    [ComponentName(Name = "model")] readonly BertForSequenceClassification model;

    /// <summary>Wraps <paramref name="model"/> (it stays owned by the caller).</summary>
    /// <param name="model">The classifier.</param>
    /// <param name="learningRate">Peak learning rate.</param>
    /// <param name="totalSteps">Steps of the cosine schedule.</param>
    /// <param name="warmupSteps">Linear warmup steps.</param>
    /// <param name="weightDecay">AdamW weight decay.</param>
    public SequenceClassificationModule(BertForSequenceClassification model, double learningRate, long totalSteps, long warmupSteps, double weightDecay = 0)
        : base(nameof(SequenceClassificationModule))
    {
        this.model = model ?? throw new ArgumentNullException(nameof(model));
        LearningRate = learningRate;
        TotalSteps = totalSteps;
        WarmupSteps = warmupSteps;
        WeightDecay = weightDecay;
        RegisterComponents();
    }

    /// <summary>Peak learning rate.</summary>
    public double LearningRate { get; }

    /// <summary>Steps of the cosine schedule.</summary>
    public long TotalSteps { get; }

    /// <summary>Warmup steps.</summary>
    public long WarmupSteps { get; }

    /// <summary>AdamW weight decay.</summary>
    public double WeightDecay { get; }

    Tensor Logits(ClassificationBatch batch) => model.forward(batch.InputIds, batch.AttentionMask);

    /// <inheritdoc />
    public override Tensor TrainingStep(ClassificationBatch batch, int batchIndex)
    {
        Tensor loss = nn.functional.cross_entropy(Logits(batch), batch.Labels);
        Log("train_loss", loss, batch.Size, progressBar: true);
        return loss;
    }

    /// <inheritdoc />
    public override void ValidationStep(ClassificationBatch batch, int batchIndex)
    {
        using Tensor logits = Logits(batch);
        Log("val_loss", nn.functional.cross_entropy(logits, batch.Labels), batch.Size, progressBar: true);
        Log("val_acc", logits.argmax(1).eq(batch.Labels).sum().ToDouble() / batch.Size, batch.Size, progressBar: true);
    }

    /// <inheritdoc />
    public override Tensor PredictStep(ClassificationBatch batch, int batchIndex) => nn.functional.softmax(Logits(batch), 1);

    /// <inheritdoc />
    public override ClassificationBatch TransferBatchToDevice(ClassificationBatch batch, Device device) => batch.To(device);

    /// <inheritdoc />
    public override OptimizerConfig ConfigureOptimizers() => new(
        optim.AdamW(model.parameters().Where(p => p.requires_grad), LearningRate, weight_decay: WeightDecay),
        new WarmupCosineSchedule(LearningRate, WarmupSteps, TotalSteps, LearningRate / 10));

    /// <inheritdoc />
    public override IReadOnlyDictionary<string, object?> Hyperparameters => new Dictionary<string, object?>
    {
        ["learning_rate"] = LearningRate, ["total_steps"] = TotalSteps, ["warmup_steps"] = WarmupSteps, ["weight_decay"] = WeightDecay,
    };
}
