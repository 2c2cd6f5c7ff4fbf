namespace Tessera.Recipes;

/// <summary>Settings of <see cref="FashionMnistTraining"/>; the defaults are the ones <c>tessera train fashion-mnist</c> uses.</summary>
public sealed record FashionMnistTrainingOptions
{
    /// <summary><c>cnn</c> (default), <c>mlp</c> or <c>resnet</c>.</summary>
    public string Model { get; init; } = "cnn";
    /// <summary>Architecture config to use instead of <see cref="Model"/>'s defaults (its model_type decides the model).</summary>
    public Transformers.PretrainedConfig? Config { get; init; }
    /// <summary>Epochs (default 5).</summary>
    public int Epochs { get; init; } = 5;
    /// <summary>Batch size (default 128).</summary>
    public int BatchSize { get; init; } = 128;
    /// <summary>Peak learning rate (default 1e-3 with Adam; resnet default 3e-3 with one-cycle AdamW).</summary>
    public double? LearningRate { get; init; }
    /// <summary>LR schedule: <c>none</c>, <c>cosine</c> (5% warmup, then cosine to 0) or <c>onecycle</c>; null: cosine for cnn/mlp, onecycle for resnet.</summary>
    public string? Schedule { get; init; }
    /// <summary>Label smoothing of the cross-entropy loss; null: 0.1 for cnn/mlp (+0.3 points on the cnn at 5 epochs, see bench/README.md), 0 for resnet.</summary>
    public double? LabelSmoothing { get; init; }
    /// <summary>Seed for initialization, shuffling and augmentation (default 0).</summary>
    public int Seed { get; init; }
    /// <summary>Output folder: model/, checkpoints/, metrics.csv, events/ (default runs/fashion-mnist).</summary>
    public string OutputDir { get; init; } = "runs/fashion-mnist";
    /// <summary>Train on the first N training images only (at least 1); the validation images are held out first.</summary>
    public int? LimitTrain { get; init; }
    /// <summary>Continue from OutputDir/checkpoints/last when it exists.</summary>
    public bool Resume { get; init; }

    /// <summary>Replace the run already in OutputDir (see <see cref="RunOutput.Prepare"/>); without it a non-empty folder is refused unless resuming.</summary>
    public bool Overwrite { get; init; }
    /// <summary>cpu, cuda, cuda:N or auto.</summary>
    public string Device { get; init; } = "cpu";
    /// <summary>Random crop (padding 2) and horizontal flip on training images; default on for resnet only.</summary>
    public bool? Augment { get; init; }
    /// <summary>Where the IDX files are (default /usr/share/datasets/fashion-mnist).</summary>
    public string? DataDir { get; init; }
    /// <summary>
    /// libtorch intra-op threads; null keeps libtorch's default (all cores). Setting it is process-wide
    /// (<c>torch.set_num_threads</c>: every thread started later uses it too) and it stays after the run.
    /// </summary>
    public int? Threads { get; init; }
    /// <summary>
    /// Training precision: <c>32-true</c> (default) or <c>bf16-mixed</c> (bf16 forward/backward with fp32 master weights,
    /// see <see cref="Training.TrainerOptions.Precision"/>); the saved model is fp32 either way.
    /// </summary>
    public string Precision { get; init; } = "32-true";
    /// <summary>
    /// Training images held out for validation (val_loss, val_acc, the best checkpoint), taken from the end of the
    /// training set; default <see cref="DefaultValidationSize"/> (training on the other 55,000). The test set is never
    /// used for validation: it only gives the final report, with the last epoch's weights. 0 trains on all 60,000 with
    /// no validation (checkpoints keep only <c>last</c>). Negative, or the whole training set, is an
    /// <see cref="ArgumentException"/>.
    /// </summary>
    public int ValidationSize { get; init; } = DefaultValidationSize;

    /// <summary>The default <see cref="ValidationSize"/>: 5,000 images, one in twelve of Fashion-MNIST's 60,000 training images.</summary>
    public const int DefaultValidationSize = 5000;
    /// <summary>More callbacks to run after the built-in ones (checkpointing, LR monitor, progress).</summary>
    public IReadOnlyList<Training.Callback> Callbacks { get; init; } = [];
    /// <summary>Show a live progress bar (when false, or redirected or CI, one line per epoch).</summary>
    public bool? PlainProgress { get; init; }

    /// <summary>
    /// How training is spread over processes; null: one process. With a <see cref="Distributed.DataParallelStrategy"/>
    /// <see cref="BatchSize"/> is per process, and only rank 0 writes the output folder and reports.
    /// </summary>
    public Training.TrainingStrategy? Strategy { get; init; }
}
