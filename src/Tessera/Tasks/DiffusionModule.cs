using Tessera.Data;
using Tessera.Diffusion;
using Tessera.Diffusion.Schedulers;
using Tessera.Training;
using Tessera.Training.Schedules;
using TorchSharp;
using TorchSharp.Utils;
using static TorchSharp.torch;

namespace Tessera.Tasks;

/// <summary>
/// Trains a <see cref="UNet2DModel"/> as a DDPM denoiser (diffusers' <c>train_unconditional.py</c> objective): for a
/// <see cref="Batch"/> of images in [-1, 1] (inputs) and class ids (targets), draw one uniform timestep and Gaussian
/// noise per image, noise the images with the scheduler's <see cref="IDiffusionScheduler.AddNoise"/>, and regress the
/// UNet output on the scheduler's <c>prediction_type</c> target (the noise for <c>epsilon</c>,
/// <see cref="IDiffusionScheduler.GetVelocity"/> for <c>v_prediction</c>, the clean image for <c>sample</c>) with MSE.
/// </summary>
/// <remarks>
/// Class conditioning for classifier-free guidance: a class-conditional UNet has <c>num_class_embeds</c> = classes + 1;
/// the last embedding (<c>num_class_embeds - 1</c>) is the "no class" label, which replaces each image's label with
/// probability <see cref="DiffusionModuleOptions.LabelDropout"/>. That is the label <c>SamplingOptions.UnconditionalClassLabel</c>
/// uses by default, so <c>--guidance-scale</c> works on the saved pipeline unchanged.
/// An exponential moving average of the weights (<see cref="Ema"/>) is a registered submodule, so it is in every trainer
/// checkpoint and resumes exactly; it is updated after every optimizer step by <see cref="EmaCallback"/>, which must be
/// the first callback (before checkpointing). Randomness (timesteps, noise, label dropout) comes from libtorch's global
/// generator, whose state the trainer checkpoints.
/// </remarks>
public sealed class DiffusionModule : TrainingModule
{
    [ComponentName(Name = "unet")] readonly UNet2DModel unet;
    [ComponentName(Name = "ema")] readonly UNet2DModel ema;
    readonly IDiffusionScheduler scheduler;
    readonly int numTrainTimesteps;

    /// <summary>Wraps <paramref name="unet"/> (owned by the caller) and creates its EMA copy (owned by this module).</summary>
    /// <param name="unet">The UNet to train.</param>
    /// <param name="scheduler">The noise scheduler whose forward process and <c>prediction_type</c> define the objective.</param>
    /// <param name="options">Optimizer, schedule, label dropout and EMA settings.</param>
    /// <exception cref="ArgumentException">An option is out of range, or the prediction type is unknown.</exception>
    public DiffusionModule(UNet2DModel unet, IDiffusionScheduler scheduler, DiffusionModuleOptions options) : base(nameof(DiffusionModule))
    {
        this.unet = unet ?? throw new ArgumentNullException(nameof(unet));
        this.scheduler = scheduler ?? throw new ArgumentNullException(nameof(scheduler));
        Options = options ?? throw new ArgumentNullException(nameof(options));
        if (options.LabelDropout is < 0 or > 1) throw new ArgumentException($"label dropout must be in [0, 1], got {options.LabelDropout}");
        if (options.EmaDecay is < 0 or >= 1) throw new ArgumentException($"EMA decay must be in [0, 1), got {options.EmaDecay}");
        if (scheduler.Config.PredictionType is not ("epsilon" or "v_prediction" or "sample"))
            throw new ArgumentException($"scheduler prediction_type '{scheduler.Config.PredictionType}': expected epsilon, v_prediction or sample");
        numTrainTimesteps = scheduler.Config.NumTrainTimesteps;
        ema = new UNet2DModel(unet.Config);
        using (no_grad())
        {
            var source = unet.state_dict();
            foreach (var (name, value) in ema.state_dict()) value.copy_(source[name]);
        }
        foreach (var p in ema.parameters()) p.requires_grad_(false);
        ema.eval();
        RegisterComponents();
    }

    /// <summary>The UNet being trained.</summary>
    public UNet2DModel UNet => unet;

    /// <summary>The exponential moving average of <see cref="UNet"/>'s weights (what a run saves).</summary>
    public UNet2DModel Ema => ema;

    /// <summary>The settings.</summary>
    public DiffusionModuleOptions Options { get; }

    /// <summary>The label that stands for "no class" (<c>num_class_embeds - 1</c>), or null for an unconditional UNet.</summary>
    public long? NullClass => unet.Config.NumClassEmbeds is int n && unet.Config.ClassEmbedType is null ? n - 1 : null;

    /// <summary>A callback that updates <see cref="Ema"/> after each training batch; put it first in the trainer's callbacks.</summary>
    public Callback EmaCallback => new EmaUpdater();

    /// <inheritdoc />
    public override Tensor TrainingStep(Batch batch, int batchIndex)
    {
        Tensor loss = Loss(batch.Inputs, batch.Targets, Options.LabelDropout);
        Log("train_loss", loss, batch.Size, progressBar: true);
        return loss;
    }

    /// <inheritdoc />
    public override void ValidationStep(Batch batch, int batchIndex) => Log("val_loss", Loss(batch.Inputs, batch.Targets, 0), batch.Size, progressBar: true);

    /// <summary>The denoising MSE of one batch (random timesteps, noise and label dropout from the global generator).</summary>
    /// <param name="images">[B, C, H, W] in [-1, 1].</param>
    /// <param name="labels">[B] class ids, or ignored for an unconditional UNet.</param>
    /// <param name="labelDropout">Probability of replacing a label by <see cref="NullClass"/>.</param>
    /// <exception cref="ArgumentException">A label is outside <c>0..num_class_embeds - 2</c>.</exception>
    public Tensor Loss(Tensor images, Tensor? labels, double labelDropout)
    {
        ArgumentNullException.ThrowIfNull(images);
        long b = images.shape[0];
        Device device = images.device;
        Tensor t = randint(0, numTrainTimesteps, [b], dtype: ScalarType.Int64);
        Tensor noise = randn(images.shape, dtype: ScalarType.Float32);
        Tensor? classLabels = null;
        if (NullClass is long nullClass)
        {
            if (labels is null) throw new ArgumentException("the UNet is class-conditional: class labels are required");
            Tensor l = labels.to(CPU).to_type(ScalarType.Int64);
            long min = l.min().item<long>(), max = l.max().item<long>();
            if (min < 0 || max >= nullClass)
                throw new ArgumentException($"class label {(min < 0 ? min : max)} is outside 0..{nullClass - 1} (num_class_embeds {nullClass + 1}; {nullClass} is the unconditional label)");
            Tensor drop = rand([b]) < labelDropout;
            classLabels = where(drop, full_like(l, nullClass), l).to(device);
        }

        // The scheduler's forward process on CPU floats, so training and sampling share one definition of alpha_bar.
        float[] x0 = images.detach().to(CPU).to_type(ScalarType.Float32).contiguous().data<float>().ToArray();
        float[] eps = noise.contiguous().data<float>().ToArray();
        int[] steps = t.to_type(ScalarType.Int32).data<int>().ToArray();
        var noisy = new float[x0.Length];
        scheduler.AddNoise(x0, eps, steps, noisy);
        Tensor target;
        switch (scheduler.Config.PredictionType)
        {
            case "epsilon": target = noise; break;
            case "sample": target = images.detach().to(CPU).to_type(ScalarType.Float32); break;
            default:
                var velocity = new float[x0.Length];
                scheduler.GetVelocity(x0, eps, steps, velocity);
                target = tensor(velocity, images.shape);
                break;
        }
        Tensor input = tensor(noisy, images.shape).to(device).to_type(unet.ComputeType);
        Tensor output = unet.call(input, t.to(device), classLabels);
        return nn.functional.mse_loss(output.to_type(ScalarType.Float32), target.to(device));
    }

    /// <summary>The EMA decay at optimizer step <paramref name="step"/> (1-based): <c>min(decay, (1 + step) / (10 + step))</c>, diffusers' EMAModel warmup.</summary>
    public double EmaDecayAt(long step) => Math.Min(Options.EmaDecay, (1.0 + step) / (10.0 + step));

    /// <summary>Moves <see cref="Ema"/> towards the current weights: <c>ema = d * ema + (1 - d) * weights</c> with <see cref="EmaDecayAt"/> of <paramref name="step"/>.</summary>
    public void UpdateEma(long step)
    {
        double d = EmaDecayAt(step);
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        // The module's own state_dict: under bf16-mixed it holds the fp32 master weights, the UNet's holds its bf16 copies.
        var current = state_dict();
        foreach (var (name, value) in ema.state_dict())
        {
            Tensor source = current["unet." + name];
            if (value.is_floating_point()) value.mul_(d).add_(source, alpha: 1 - d);
            else value.copy_(source);
        }
    }

    /// <inheritdoc />
    public override OptimizerConfig ConfigureOptimizers() => new(
        // The module's parameters, not the UNet's: under bf16-mixed those are the fp32 master weights. The EMA's are frozen.
        optim.AdamW(parameters().Where(p => p.requires_grad), Options.LearningRate, weight_decay: Options.WeightDecay),
        new WarmupCosineSchedule(Options.LearningRate, Options.WarmupSteps, Options.TotalSteps, 0));

    /// <summary>The EMA copy: it is averaged, not trained, and stays fp32 under bf16-mixed.</summary>
    public override IEnumerable<nn.Module> FullPrecisionModules => [ema];

    /// <inheritdoc />
    public override IReadOnlyDictionary<string, object?> Hyperparameters => new Dictionary<string, object?>
    {
        ["learning_rate"] = Options.LearningRate, ["total_steps"] = Options.TotalSteps, ["warmup_steps"] = Options.WarmupSteps,
        ["weight_decay"] = Options.WeightDecay, ["label_dropout"] = Options.LabelDropout, ["ema_decay"] = Options.EmaDecay,
        ["prediction_type"] = scheduler.Config.PredictionType,
    };

    /// <summary>Disposes the EMA copy (the trained UNet stays with its owner).</summary>
    protected override void Dispose(bool disposing)
    {
        if (disposing) ema.Dispose();
        base.Dispose(disposing);
    }

    sealed class EmaUpdater : Callback
    {
        long lastStep = -1;

        public override void OnTrainBatchEnd(Trainer trainer, TrainingModuleBase module, double loss, int batchIndex, long batchSize)
        {
            // Once per optimizer step (the trainer counts steps, not batches, with gradient accumulation).
            if (trainer.GlobalStep == lastStep) return;
            lastStep = trainer.GlobalStep;
            ((DiffusionModule)module).UpdateEma(trainer.GlobalStep);
        }
    }
}

/// <summary>Settings of a <see cref="DiffusionModule"/>.</summary>
public sealed record DiffusionModuleOptions
{
    /// <summary>Peak AdamW learning rate (default 1e-3).</summary>
    public double LearningRate { get; init; } = 1e-3;
    /// <summary>AdamW weight decay (default 0.01).</summary>
    public double WeightDecay { get; init; } = 0.01;
    /// <summary>Linear warmup steps of the warmup-cosine schedule.</summary>
    public long WarmupSteps { get; init; } = 100;
    /// <summary>Optimizer steps of the run (the cosine decays to 0 at this step).</summary>
    public long TotalSteps { get; init; } = 1000;
    /// <summary>Probability of training a batch element with the "no class" label (default 0.1), for classifier-free guidance.</summary>
    public double LabelDropout { get; init; } = 0.1;
    /// <summary>EMA decay (default 0.999), warmed up as <c>(1 + step) / (10 + step)</c>; 0 makes the EMA a copy of the weights.</summary>
    public double EmaDecay { get; init; } = 0.999;
}
