namespace Tessera.Diffusion.Pipelines;

/// <summary>Settings of one <see cref="DiffusionSampler.Sample"/> run.</summary>
public sealed record SamplingOptions
{
    /// <summary>Number of images.</summary>
    public int NumImages { get; init; } = 1;

    /// <summary>Denoising steps (the scheduler's <c>SetTimesteps</c>).</summary>
    public int NumInferenceSteps { get; init; } = 50;

    /// <summary>Seed of image 0; image <c>i</c> uses <c>Seed + i</c>, so it is the same alone or in a batch. Ignored when <see cref="Noise"/> is given.</summary>
    public long Seed { get; init; }

    /// <summary>One noise source per image (initial noise and the noise stochastic schedulers add); <see cref="Schedulers.GaussianNoise.PerSample"/> of <see cref="Seed"/> when null.</summary>
    public IReadOnlyList<Schedulers.INoiseSource>? Noise { get; init; }

    /// <summary>Class label of every image (class-conditional models), or null.</summary>
    public long? ClassLabel { get; init; }

    /// <summary>One class label per image (overrides <see cref="ClassLabel"/>), or null.</summary>
    public IReadOnlyList<long>? ClassLabels { get; init; }

    /// <summary>
    /// Classifier-free guidance: <c>uncond + scale * (cond - uncond)</c> with the unconditional prediction from
    /// <see cref="UnconditionalClassLabel"/>; 1 (the default) runs the conditional model alone.
    /// </summary>
    public double GuidanceScale { get; init; } = 1.0;

    /// <summary>The class label trained as "no class" for guidance; the last embedding (<c>num_class_embeds - 1</c>) when null.</summary>
    public long? UnconditionalClassLabel { get; init; }

    /// <summary>Height and width of the images; the UNet's <c>sample_size</c> when null.</summary>
    public int? ImageSize { get; init; }

    /// <summary>Images per UNet call (all at once when null).</summary>
    public int? BatchSize { get; init; }

    /// <summary>Called after each step with (step done, total steps).</summary>
    public Action<int, int>? Progress { get; init; }
}
