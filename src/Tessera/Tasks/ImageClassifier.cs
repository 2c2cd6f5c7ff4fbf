using Tessera.Data;
using Tessera.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace Tessera.Tasks;

/// <summary>
/// A ready-made training module for image classification: cross-entropy on any <c>Module&lt;Tensor, Tensor&gt;</c>
/// that maps images to logits; logs <c>val_loss</c> and <c>val_acc</c>.
/// </summary>
public sealed class ImageClassifier : TrainingModule
{
    private readonly nn.Module<Tensor, Tensor> model;

    /// <summary>Wraps <paramref name="model"/>; <paramref name="options"/> sets optimizer and schedule.</summary>
    public ImageClassifier(nn.Module<Tensor, Tensor> model, ImageClassifierOptions? options = null) : base(nameof(ImageClassifier))
    {
        this.model = model;
        Options = options ?? new ImageClassifierOptions();
        RegisterComponents();
    }

    /// <summary>The wrapped model (its state dict is what model folders store).</summary>
    public nn.Module<Tensor, Tensor> Model => model;

    /// <summary>Optimizer and schedule settings.</summary>
    public ImageClassifierOptions Options { get; }

    /// <summary>Logits for a batch of images.</summary>
    public Tensor Forward(Tensor images) => model.call(images);

    /// <inheritdoc />
    public override Tensor TrainingStep(Batch batch, int batchIndex) =>
        nn.functional.cross_entropy(model.call(batch.Inputs), batch.Targets, label_smoothing: Options.LabelSmoothing);

    /// <inheritdoc />
    public override void ValidationStep(Batch batch, int batchIndex)
    {
        var logits = model.call(batch.Inputs);
        Log("val_loss", nn.functional.cross_entropy(logits, batch.Targets), batch.Size, progressBar: true);
        Log("val_acc", logits.argmax(1).eq(batch.Targets).sum().ToDouble() / batch.Size, batch.Size, progressBar: true);
    }

    /// <inheritdoc />
    public override Tensor PredictStep(Batch batch, int batchIndex) => nn.functional.softmax(model.call(batch.Inputs), 1);

    /// <inheritdoc />
    public override OptimizerConfig ConfigureOptimizers()
    {
        var p = parameters();
        optim.Optimizer optimizer = Options.Optimizer switch
        {
            "adam" => optim.Adam(p, Options.LearningRate, weight_decay: Options.WeightDecay),
            "adamw" => optim.AdamW(p, Options.LearningRate, weight_decay: Options.WeightDecay),
            "sgd" => optim.SGD(p, Options.LearningRate, momentum: 0.9, weight_decay: Options.WeightDecay, nesterov: true),
            var other => throw new ArgumentException($"unknown optimizer '{other}': expected adam, adamw or sgd"),
        };
        long total = Trainer?.EstimatedTotalSteps ?? 1;
        ILrSchedule? schedule = Options.Schedule switch
        {
            "none" => null,
            "onecycle" => new Training.Schedules.OneCycleSchedule(Options.LearningRate, total),
            "cosine" => new Training.Schedules.WarmupCosineSchedule(Options.LearningRate, Math.Max(1, total / 20), total),
            var other => throw new ArgumentException($"unknown schedule '{other}': expected none, onecycle or cosine"),
        };
        return new OptimizerConfig(optimizer, schedule);
    }

    /// <inheritdoc />
    public override IReadOnlyDictionary<string, object?> Hyperparameters => new Dictionary<string, object?>
    {
        ["optimizer"] = Options.Optimizer,
        ["learning_rate"] = Options.LearningRate,
        ["weight_decay"] = Options.WeightDecay,
        ["schedule"] = Options.Schedule,
        ["label_smoothing"] = Options.LabelSmoothing,
    };
}
