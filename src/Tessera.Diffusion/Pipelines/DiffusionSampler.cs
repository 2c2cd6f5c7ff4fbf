using Tessera.Diffusion.Schedulers;

namespace Tessera.Diffusion.Pipelines;

/// <summary>
/// The one sampling loop of every diffusion pipeline, on flat arrays: seeded initial noise (one source per image),
/// then for each of the scheduler's timesteps scale the input, ask the <see cref="IDenoiser"/> for the model output
/// (twice as wide under classifier-free guidance) and let the scheduler step. The back ends differ only in the
/// denoiser.
/// </summary>
public static class DiffusionSampler
{
    /// <summary>Generates <see cref="SamplingOptions.NumImages"/> samples.</summary>
    /// <exception cref="ArgumentException">An option does not fit the model: no steps, a class label missing, given to an unconditional model or out of range, no image size.</exception>
    public static DiffusionOutput Sample(IDenoiser denoiser, IDiffusionScheduler scheduler, SamplingOptions options)
    {
        ArgumentNullException.ThrowIfNull(denoiser);
        ArgumentNullException.ThrowIfNull(scheduler);
        ArgumentNullException.ThrowIfNull(options);
        int n = options.NumImages;
        if (n < 1) throw new ArgumentException($"the number of images must be at least 1, got {n}", nameof(options));
        if (options.NumInferenceSteps < 1) throw new ArgumentException($"the number of inference steps must be at least 1, got {options.NumInferenceSteps}", nameof(options));
        int height = options.ImageSize ?? denoiser.SampleSize
            ?? throw new ArgumentException("the UNet's config has no sample_size; give the image size", nameof(options));
        int width = options.ImageSize ?? denoiser.SampleWidth ?? height;
        if (height < 1 || width < 1) throw new ArgumentException($"the image size must be positive, got {height}x{width}", nameof(options));
        long[]? labels = Labels(denoiser, options, n);
        bool guided = options.GuidanceScale != 1.0;
        long uncond = 0;
        if (guided)
        {
            if (denoiser.NumClassEmbeds is not { } classes)
                throw new ArgumentException("classifier-free guidance needs a class-conditional UNet (num_class_embeds)", nameof(options));
            uncond = options.UnconditionalClassLabel ?? classes - 1;
            CheckLabel(uncond, classes, "unconditional class label");
        }
        IReadOnlyList<INoiseSource> noise = options.Noise ?? GaussianNoise.PerSample(unchecked((ulong)options.Seed), n);
        if (noise.Count != n) throw new ArgumentException($"{noise.Count} noise sources for {n} images", nameof(options));

        int c = denoiser.InChannels;
        int per = c * height * width;
        var result = new float[(long)n * per];
        int batch = Math.Clamp(options.BatchSize ?? n, 1, n);
        int chunks = (n + batch - 1) / batch;
        for (int start = 0, chunk = 0; start < n; start += batch, chunk++)
        {
            int count = Math.Min(batch, n - start);
            float[] samples = Run(denoiser, scheduler, options, noise.Skip(start).Take(count).ToArray(),
                labels?.AsSpan(start, count).ToArray(), guided, uncond, [count, c, height, width], chunk, chunks);
            samples.CopyTo(result, (long)start * per);
        }
        return new DiffusionOutput(result, n, c, height, width);
    }

    static float[] Run(IDenoiser denoiser, IDiffusionScheduler scheduler, SamplingOptions options, INoiseSource[] noise, long[]? labels,
        bool guided, long uncond, int[] shape, int chunk, int chunks)
    {
        int count = shape[0], per = shape[1] * shape[2] * shape[3];
        scheduler.SetTimesteps(options.NumInferenceSteps);
        var sample = new float[count * per];
        float sigma = (float)scheduler.InitNoiseSigma;
        for (int i = 0; i < count; i++)
        {
            Span<float> image = sample.AsSpan(i * per, per);
            noise[i].NextGaussian(image);
            if (sigma != 1f) foreach (ref float v in image) v *= sigma;
        }
        int[] modelShape = guided ? [2 * count, shape[1], shape[2], shape[3]] : shape;
        long[] modelLabels = labels is null ? [] : guided ? [.. labels, .. Enumerable.Repeat(uncond, count)] : labels;
        var input = new float[modelShape[0] * per];
        var timesteps = new float[modelShape[0]];
        var steps = scheduler.Timesteps;
        for (int s = 0; s < steps.Count; s++)
        {
            double t = steps[s];
            sample.CopyTo(input, 0);
            scheduler.ScaleModelInput(input.AsSpan(0, sample.Length), t);
            if (guided) input.AsSpan(0, sample.Length).CopyTo(input.AsSpan(sample.Length));
            Array.Fill(timesteps, (float)t);
            float[] output = denoiser.Denoise(input, modelShape, timesteps, modelLabels);
            if (guided)
            {
                float g = (float)options.GuidanceScale;
                for (int i = 0; i < sample.Length; i++)
                {
                    float u = output[sample.Length + i];
                    output[i] = u + g * (output[i] - u);
                }
            }
            sample = scheduler.Step(output.AsSpan(0, sample.Length), t, sample, noise).PrevSample;
            options.Progress?.Invoke(chunk * steps.Count + s + 1, chunks * steps.Count);
        }
        return sample;
    }

    static long[]? Labels(IDenoiser denoiser, SamplingOptions options, int n)
    {
        long[]? labels = options.ClassLabels?.ToArray() ?? (options.ClassLabel is { } one ? Enumerable.Repeat(one, n).ToArray() : null);
        if (denoiser.NumClassEmbeds is not { } classes)
        {
            if (labels is not null) throw new ArgumentException("the UNet is unconditional (no num_class_embeds) but a class label was given", nameof(options));
            return null;
        }
        if (labels is null) throw new ArgumentException($"the UNet is class-conditional: give a class label in [0, {classes})", nameof(options));
        if (labels.Length != n) throw new ArgumentException($"{labels.Length} class labels for {n} images", nameof(options));
        foreach (long l in labels) CheckLabel(l, classes, "class label");
        return labels;
    }

    static void CheckLabel(long label, int classes, string what)
    {
        if (label < 0 || label >= classes)
            throw new ArgumentException($"{what} {label} is outside [0, {classes}) (num_class_embeds = {classes})");
    }
}
