using System.Diagnostics;
using Tessera.Data;
using Tessera.Diffusion;
using Tessera.Diffusion.Pipelines;
using Tessera.Diffusion.Schedulers;
using Tessera.Models;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Tessera.Recipes;

/// <summary>Settings of <see cref="DiffusionEvaluation"/>'s measurement.</summary>
public sealed record DiffusionEvaluationOptions
{
    /// <summary>Generated images per class (default 100).</summary>
    public int SamplesPerClass { get; init; } = 100;
    /// <summary>Denoising steps (default 50).</summary>
    public int Steps { get; init; } = 50;
    /// <summary>Scheduler to sample with (<c>ddim</c> default; any registered short or class name; null keeps the folder's).</summary>
    public string? Scheduler { get; init; } = "ddim";
    /// <summary>
    /// Overrides the sampling scheduler's <c>clip_sample</c> (clipping the predicted x0 to [-1, 1]; DDPM and DDIM only),
    /// like diffusers' <c>DDIMScheduler.from_config(config, clip_sample=...)</c>; null (default) keeps the folder's value.
    /// </summary>
    public bool? ClipSample { get; init; }
    /// <summary>DDIM's eta (0, the default, is deterministic; 1 adds DDPM's posterior noise); other schedulers ignore it.</summary>
    public double Eta { get; init; }
    /// <summary>Classifier-free guidance scale (default 2).</summary>
    public double GuidanceScale { get; init; } = 2.0;
    /// <summary>Seed of the first image (image i of the run uses Seed + i), so the numbers are reproducible (default 0).</summary>
    public long Seed { get; init; }
    /// <summary>
    /// Real test images, and the first N training images of the full-size floor (<see cref="DiffusionQuality.FrechetFloor"/>); default 10000.
    /// </summary>
    public int RealImages { get; init; } = 10000;
    /// <summary>Images per UNet call (default 250).</summary>
    public int BatchSize { get; init; } = 250;
    /// <summary>Where the Fashion-MNIST IDX files are.</summary>
    public string? DataDir { get; init; }
}

/// <summary>Quality of a class-conditional Fashion-MNIST diffusion model, measured with a Tessera-trained classifier.</summary>
public sealed record DiffusionQuality
{
    /// <summary>Per class k: the fraction of images generated for k that the classifier assigns to k.</summary>
    public required IReadOnlyList<double> ClassAgreement { get; init; }
    /// <summary>Mean of <see cref="ClassAgreement"/> over the classes.</summary>
    public double MeanClassAgreement => ClassAgreement.Average();
    /// <summary>Fréchet distance between the classifier features of the generated images and of the real test images.</summary>
    public double FrechetDistance { get; init; }
    /// <summary>
    /// The same distance between the first <see cref="RealImages"/> real training images and the real test images: the
    /// floor of two large real sets. Not comparable with <see cref="FrechetDistance"/> when fewer images were generated
    /// (the estimate grows as a set shrinks); see <see cref="FrechetFloorAtGeneratedCount"/>.
    /// </summary>
    public double FrechetFloor { get; init; }
    /// <summary>
    /// The floor at the generated set's size: the distance between <see cref="GeneratedImages"/> real training images
    /// (class-balanced like the generated set, drawn with the evaluation's seed) and the real test images, i.e. what a
    /// perfect generator would score with this many images. The figure to compare <see cref="FrechetDistance"/> with.
    /// </summary>
    public double FrechetFloorAtGeneratedCount { get; init; }
    /// <summary>Generated images (all classes).</summary>
    public int GeneratedImages { get; init; }
    /// <summary>Real images per real set.</summary>
    public int RealImages { get; init; }
    /// <summary>Which layer gave the features, in words.</summary>
    public required string FeatureLayer { get; init; }
    /// <summary>Feature dimension.</summary>
    public int FeatureDim { get; init; }
    /// <summary>The sampling settings, in words (scheduler, steps, guidance, seed).</summary>
    public required string Sampling { get; init; }
    /// <summary>Seconds spent generating.</summary>
    public double SampleSeconds { get; init; }
}

/// <summary>
/// <c>tessera eval</c> on a diffusion pipeline folder: class agreement and an FID-style Fréchet distance, both from a
/// Fashion-MNIST classifier folder (<c>tessera train fashion-mnist</c>). The features are the input of the
/// classifier's last <c>Linear</c> layer (its penultimate activations: the 128 ReLU units of <c>fc1</c> for the
/// <c>cnn</c>, the pooled features for <c>resnet</c>), captured with a forward hook.
/// </summary>
public static class DiffusionEvaluation
{
    /// <summary>Generates <see cref="DiffusionEvaluationOptions.SamplesPerClass"/> images per class and measures them against the real Fashion-MNIST images.</summary>
    /// <exception cref="ArgumentException">The pipeline is not class-conditional with 10 classes (+1 unconditional label), or an option is out of range.</exception>
    public static DiffusionQuality Evaluate(DiffusionPipeline pipeline, string classifierDir, DiffusionEvaluationOptions? options = null, TextWriter? log = null)
    {
        ArgumentNullException.ThrowIfNull(pipeline);
        return Evaluate(pipeline.UNet.Config, pipeline.Scheduler, scheduler => pipeline.Scheduler = scheduler, pipeline.Generate, "TorchSharp", classifierDir, options, log);
    }

    /// <summary>The same measurement with an ONNX pipeline folder (<c>tessera export</c> of a diffusion pipeline) sampled in ONNX Runtime.</summary>
    /// <exception cref="ArgumentException">The pipeline is not class-conditional with 10 classes (+1 unconditional label), or an option is out of range.</exception>
    public static DiffusionQuality Evaluate(Tessera.Runtime.Diffusion.OrtDiffusionPipeline pipeline, string classifierDir, DiffusionEvaluationOptions? options = null, TextWriter? log = null)
    {
        ArgumentNullException.ThrowIfNull(pipeline);
        return Evaluate(pipeline.Config, pipeline.Scheduler, scheduler => pipeline.Scheduler = scheduler, pipeline.Generate, "ONNX Runtime", classifierDir, options, log);
    }

    // Samples through generate with setScheduler's scheduler in place, then puts original back: one measurement for both engines.
    static DiffusionQuality Evaluate(UNet2DConfig config, IDiffusionScheduler original, Action<IDiffusionScheduler> setScheduler, Func<SamplingOptions, DiffusionOutput> generate,
        string engine, string classifierDir, DiffusionEvaluationOptions? options, TextWriter? log)
    {
        options ??= new DiffusionEvaluationOptions();
        if (options.SamplesPerClass < 2) throw new ArgumentException($"--samples-per-class must be at least 2 (got {options.SamplesPerClass})");
        if (!(options.Eta >= 0 && options.Eta <= 1)) throw new ArgumentException($"--eta must be in [0, 1] (got {options.Eta})");
        if (options.Steps < 1) throw new ArgumentException($"--steps must be at least 1 (got {options.Steps})");
        int classes = FashionMnist.Classes.Length;
        if (config.NumClassEmbeds is not int n || n < classes)
            throw new ArgumentException($"the pipeline's UNet has num_class_embeds {config.NumClassEmbeds?.ToString() ?? "null"}: class agreement needs a class-conditional Fashion-MNIST model ({classes} classes + 1 unconditional label)");

        var folder = ModelFolder.Open(classifierDir);
        using var classifier = folder.LoadModel();
        classifier.eval();
        var (linear, layerName) = LastLinear(classifier);

        IDiffusionScheduler sampler = SamplingScheduler(original, options);
        string clipping = sampler is DdimScheduler or DdpmScheduler ? $" (clip_sample {(sampler.Config.ClipSample ? "true" : "false")})" : "";
        if (sampler is DdimScheduler { Eta: > 0 } withEta) clipping += $" eta {withEta.Eta}";
        var clock = Stopwatch.StartNew();
        DiffusionOutput output;
        setScheduler(sampler);
        try
        {
            var labels = Enumerable.Range(0, classes * options.SamplesPerClass).Select(i => (long)(i / options.SamplesPerClass)).ToArray();
            output = generate(new SamplingOptions
            {
                NumImages = labels.Length, ClassLabels = labels, NumInferenceSteps = options.Steps, Seed = options.Seed,
                GuidanceScale = options.GuidanceScale, BatchSize = options.BatchSize,
            });
        }
        finally { setScheduler(original); }
        clock.Stop();
        log?.WriteLine($"generated {output.Count} images in {clock.Elapsed.TotalSeconds:0.0}s");

        using var scope = NewDisposeScope();
        Tensor generated = GeneratedToUnit(output);
        var (genFeatures, genPredictions) = Features(classifier, linear, folder, generated);
        using var test = FashionMnist.Load(train: false, options.DataDir, options.RealImages);
        using var train = FashionMnist.Load(train: true, options.DataDir);
        var (testFeatures, _) = Features(classifier, linear, folder, test.Inputs);
        var (trainFeatures, _) = Features(classifier, linear, folder, train.Inputs.narrow(0, 0, Math.Min(options.RealImages, train.Inputs.shape[0])));
        long[] balanced = BalancedSubset(train.Targets.data<long>().ToArray(), classes, options.SamplesPerClass, options.Seed);
        var (balancedFeatures, _) = Features(classifier, linear, folder, train.Inputs.index_select(0, tensor(balanced)));

        long[] predicted = genPredictions.data<long>().ToArray();
        var agreement = new double[classes];
        for (int i = 0; i < predicted.Length; i++)
            if (predicted[i] == i / options.SamplesPerClass) agreement[i / options.SamplesPerClass] += 1.0 / options.SamplesPerClass;

        return new DiffusionQuality
        {
            ClassAgreement = agreement,
            FrechetDistance = FrechetDistance(genFeatures, testFeatures),
            FrechetFloor = FrechetDistance(trainFeatures, testFeatures),
            FrechetFloorAtGeneratedCount = FrechetDistance(balancedFeatures, testFeatures),
            GeneratedImages = output.Count,
            RealImages = (int)test.Inputs.shape[0],
            FeatureLayer = layerName,
            FeatureDim = (int)genFeatures.shape[1],
            Sampling = $"{original.Config.ClassName}{(options.Scheduler is null ? "" : $" -> {options.Scheduler}")}{clipping}, {options.Steps} steps, guidance {options.GuidanceScale}, seed {options.Seed}, {engine}",
            SampleSeconds = clock.Elapsed.TotalSeconds,
        };
    }

    /// <summary>
    /// The scheduler the evaluation samples with: <paramref name="original"/> swapped to <see cref="DiffusionEvaluationOptions.Scheduler"/>
    /// like diffusers' <c>from_config</c>, with <see cref="DiffusionEvaluationOptions.ClipSample"/> overriding <c>clip_sample</c> when set.
    /// </summary>
    internal static IDiffusionScheduler SamplingScheduler(IDiffusionScheduler original, DiffusionEvaluationOptions options)
    {
        if (options.Scheduler is null && options.ClipSample is null && options.Eta == 0) return original;
        SchedulerConfig config = Schedulers.ConfigFor(options.Scheduler ?? original.Config.ClassName, original.Config);
        if (options.ClipSample is bool clip) config.ClipSample = clip;
        var scheduler = Schedulers.Create(config);
        if (scheduler is DdimScheduler ddim) ddim.Eta = options.Eta;
        return scheduler;
    }

    /// <summary>
    /// A class-balanced random subset of a labelled set: <paramref name="perClass"/> distinct indices of each class
    /// 0..<paramref name="classes"/>-1, class by class, each class's indices in ascending order. The draw depends only on
    /// <paramref name="seed"/> and the labels (its own SplitMix64 generator, the same on every platform and .NET version).
    /// </summary>
    /// <exception cref="ArgumentException">A class has fewer than <paramref name="perClass"/> examples, or a label is outside 0..classes-1.</exception>
    public static long[] BalancedSubset(IReadOnlyList<long> labels, int classes, int perClass, long seed)
    {
        ArgumentNullException.ThrowIfNull(labels);
        ArgumentOutOfRangeException.ThrowIfLessThan(classes, 1);
        ArgumentOutOfRangeException.ThrowIfNegative(perClass);
        var byClass = new List<long>[classes];
        for (int k = 0; k < classes; k++) byClass[k] = [];
        for (int i = 0; i < labels.Count; i++)
        {
            long label = labels[i];
            if (label < 0 || label >= classes) throw new ArgumentException($"label {label} at index {i} is outside 0..{classes - 1}", nameof(labels));
            byClass[label].Add(i);
        }
        ulong state = unchecked((ulong)seed);
        var result = new long[classes * perClass];
        for (int k = 0; k < classes; k++)
        {
            var pool = byClass[k];
            if (pool.Count < perClass)
                throw new ArgumentException($"class {k} has {pool.Count} examples; {perClass} were asked for", nameof(perClass));
            // Partial Fisher-Yates: the first perClass slots become a uniform draw without replacement.
            for (int i = 0; i < perClass; i++)
            {
                int j = i + (int)(SplitMix64(ref state) % (ulong)(pool.Count - i));
                (pool[i], pool[j]) = (pool[j], pool[i]);
            }
            var chosen = pool.GetRange(0, perClass);
            chosen.Sort();
            chosen.CopyTo(result, k * perClass);
        }
        return result;
    }

    static ulong SplitMix64(ref ulong state)
    {
        ulong z = state += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    /// <summary>
    /// The Fréchet distance between Gaussians fitted to two feature sets [N, D] and [M, D] (FID's formula):
    /// <c>|mu1 - mu2|^2 + tr(S1) + tr(S2) - 2 tr((S1 S2)^(1/2))</c>, with unbiased covariances, in float64. The trace
    /// term is computed exactly for symmetric positive semi-definite S1, S2 as <c>sum sqrt(eig(S1^(1/2) S2 S1^(1/2)))</c>
    /// (negative round-off eigenvalues clamped to 0).
    /// </summary>
    /// <exception cref="ArgumentException">The sets are not 2-D with the same D, or one has fewer than 2 rows.</exception>
    public static double FrechetDistance(Tensor a, Tensor b)
    {
        ArgumentNullException.ThrowIfNull(a);
        ArgumentNullException.ThrowIfNull(b);
        if (a.dim() != 2 || b.dim() != 2 || a.shape[1] != b.shape[1])
            throw new ArgumentException($"feature sets must be [N, D] with the same D; got [{string.Join(", ", a.shape)}] and [{string.Join(", ", b.shape)}]");
        if (a.shape[0] < 2 || b.shape[0] < 2) throw new ArgumentException("each feature set needs at least 2 rows for a covariance");
        using var scope = NewDisposeScope();
        var (mu1, s1) = Moments(a);
        var (mu2, s2) = Moments(b);
        var (eig1, vec1) = linalg.eigh(s1);
        Tensor sqrt1 = vec1.matmul(diag(eig1.clamp_min(0).sqrt())).matmul(vec1.T);
        Tensor m = sqrt1.matmul(s2).matmul(sqrt1);
        m = (m + m.T) / 2;
        double traceSqrt = linalg.eigvalsh(m).clamp_min(0).sqrt().sum().item<double>();
        double meanTerm = (mu1 - mu2).square().sum().item<double>();
        return meanTerm + s1.trace().item<double>() + s2.trace().item<double>() - 2 * traceSqrt;
    }

    static (Tensor Mean, Tensor Covariance) Moments(Tensor x)
    {
        Tensor d = x.to(CPU).to_type(ScalarType.Float64);
        Tensor mu = d.mean([0]);
        Tensor c = d - mu;
        return (mu, c.T.matmul(c) / (d.shape[0] - 1));
    }

    /// <summary>Generated samples as [N, 1, 28, 28] in [0, 1], quantized to 8 bits like the real images; centre-cropped when the model pads to a larger size.</summary>
    static Tensor GeneratedToUnit(DiffusionOutput output)
    {
        var pixels = new byte[output.Count * output.Channels * output.Height * output.Width];
        int per = output.Channels * output.Height * output.Width;
        for (int i = 0; i < output.Count; i++) output.Pixels(i).CopyTo(pixels, i * per);
        Tensor x = tensor(pixels, [output.Count, output.Channels, output.Height, output.Width]).to_type(ScalarType.Float32) / 255f;
        int size = FashionMnist.ImageSize;
        if (output.Height != size || output.Width != size)
            x = x.narrow(2, (output.Height - size) / 2, size).narrow(3, (output.Width - size) / 2, size);
        return x;
    }

    static (nn.Module<Tensor, Tensor> Layer, string Name) LastLinear(nn.Module<Tensor, Tensor> model)
    {
        var found = model.named_modules().Where(m => m.module is Linear).LastOrDefault();
        return found.module is nn.Module<Tensor, Tensor> layer
            ? (layer, $"input of the classifier's last Linear layer `{found.name}` (its penultimate activations)")
            : throw new ArgumentException("the classifier has no Linear layer to take penultimate features from");
    }

    /// <summary>Penultimate features [N, D] (float64, CPU) and predicted classes [N] of images in [0, 1].</summary>
    static (Tensor Features, Tensor Predictions) Features(nn.Module<Tensor, Tensor> classifier, nn.Module<Tensor, Tensor> linear, ModelFolder folder, Tensor unit)
    {
        var features = new List<Tensor>();
        var predictions = new List<Tensor>();
        Tensor mean = tensor(folder.Preprocessing.Mean).reshape(1, -1, 1, 1);
        Tensor std = tensor(folder.Preprocessing.Std).reshape(1, -1, 1, 1);
        Tensor? captured = null;
        // The hook runs inside the classifier's own dispose scope: detach the copy from it and dispose it here.
        var remover = linear.register_forward_hook((m, input, output) =>
        {
            captured = input.detach().to_type(ScalarType.Float64).clone().DetachFromDisposeScope();
            return output;
        });
        try
        {
            using var noGrad = no_grad();
            for (long start = 0; start < unit.shape[0]; start += 1000)
            {
                long count = Math.Min(1000, unit.shape[0] - start);
                Tensor x = unit.narrow(0, start, count);
                if (folder.Preprocessing.Invert) x = 1 - x;
                Tensor logits = classifier.call((x - mean) / std);
                predictions.Add(logits.argmax(1));
                features.Add(captured ?? throw new InvalidOperationException("the feature hook did not run"));
                captured = null;
            }
            return (cat(features, 0), cat(predictions, 0));
        }
        finally
        {
            remover.remove();
            foreach (var f in features) f.Dispose();
        }
    }
}
