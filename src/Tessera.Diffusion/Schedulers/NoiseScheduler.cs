namespace Tessera.Diffusion.Schedulers;

/// <summary>
/// What the built-in schedulers share: the config (a copy, taken at construction), the training tables (betas,
/// alpha-bar) and the alpha-bar forms of <see cref="AddNoise"/> and <see cref="GetVelocity"/>. A user scheduler may
/// derive from it or implement <see cref="IDiffusionScheduler"/> directly.
/// </summary>
public abstract class NoiseScheduler : IDiffusionScheduler
{
    readonly float[] betas;
    readonly float[] alphasCumprod;

    /// <summary>
    /// Copies <paramref name="config"/> as it is (with <see cref="SchedulerConfig.ClassName"/> set to
    /// <paramref name="className"/>; no class defaults applied, see <see cref="Schedulers.ConfigFor"/> for that) and
    /// builds the training tables.
    /// </summary>
    /// <exception cref="Tessera.Formats.TesseraFormatException">A field is out of range or unsupported; the message names it.</exception>
    protected NoiseScheduler(SchedulerConfig config, string className)
    {
        ArgumentNullException.ThrowIfNull(config);
        Config = config.Clone();
        Config.ClassName = className;
        betas = NoiseSchedule.Betas(Config);
        alphasCumprod = NoiseSchedule.AlphasCumprod(betas);
    }

    /// <summary>The scheduler's configuration. Changing it after construction has no effect; create a new scheduler from it.</summary>
    public SchedulerConfig Config { get; }

    /// <summary>The training betas (float32, as diffusers keeps them).</summary>
    public IReadOnlyList<float> Betas => betas;

    /// <summary>The training alpha-bar values, <c>prod(1 - beta)</c> (float32).</summary>
    public IReadOnlyList<float> AlphasCumprod => alphasCumprod;

    /// <summary>The alpha-bar table for derived schedulers (not to be modified).</summary>
    protected float[] AlphaBar => alphasCumprod;

    /// <summary>The number of inference steps of the current run; null before <see cref="SetTimesteps"/>.</summary>
    public int? NumInferenceSteps { get; protected set; }

    /// <inheritdoc/>
    public IReadOnlyList<double> Timesteps => TimestepArray;

    /// <summary>The timesteps of the current run (set by <see cref="SetTimesteps"/>).</summary>
    protected double[] TimestepArray { get; set; } = [];

    /// <inheritdoc/>
    public virtual double InitNoiseSigma => 1.0;

    /// <inheritdoc/>
    public abstract void SetTimesteps(int numInferenceSteps);

    /// <inheritdoc/>
    public virtual void ScaleModelInput(Span<float> sample, double timestep) { }

    /// <inheritdoc/>
    public abstract SchedulerStepOutput Step(ReadOnlySpan<float> modelOutput, double timestep, ReadOnlySpan<float> sample, IReadOnlyList<INoiseSource>? noise = null);

    /// <inheritdoc/>
    /// <exception cref="ArgumentException">The spans differ in length, do not split into timesteps.Length samples, or a timestep is outside 0..num_train_timesteps-1.</exception>
    public virtual void AddNoise(ReadOnlySpan<float> original, ReadOnlySpan<float> noise, ReadOnlySpan<int> timesteps, Span<float> destination)
    {
        int per = PerSample(original, noise, timesteps, destination);
        for (int b = 0; b < timesteps.Length; b++)
        {
            float a = alphasCumprod[TrainIndex(timesteps[b])];
            float sqrtA = MathF.Sqrt(a), sqrtB = MathF.Sqrt(1f - a);
            for (int i = b * per; i < (b + 1) * per; i++) destination[i] = sqrtA * original[i] + sqrtB * noise[i];
        }
    }

    /// <inheritdoc/>
    /// <exception cref="ArgumentException">The spans differ in length, do not split into timesteps.Length samples, or a timestep is outside 0..num_train_timesteps-1.</exception>
    public void GetVelocity(ReadOnlySpan<float> sample, ReadOnlySpan<float> noise, ReadOnlySpan<int> timesteps, Span<float> destination)
    {
        int per = PerSample(sample, noise, timesteps, destination);
        for (int b = 0; b < timesteps.Length; b++)
        {
            float a = alphasCumprod[TrainIndex(timesteps[b])];
            float sqrtA = MathF.Sqrt(a), sqrtB = MathF.Sqrt(1f - a);
            for (int i = b * per; i < (b + 1) * per; i++) destination[i] = sqrtA * noise[i] - sqrtB * sample[i];
        }
    }

    /// <summary>Checks that <paramref name="timestep"/> is a training timestep and returns it as an index.</summary>
    /// <exception cref="ArgumentOutOfRangeException">It is outside 0..num_train_timesteps-1.</exception>
    protected int TrainIndex(double timestep)
    {
        if (!(timestep >= 0 && timestep < alphasCumprod.Length) || timestep != Math.Floor(timestep))
            throw new ArgumentOutOfRangeException(nameof(timestep), timestep, $"expected an integer training timestep 0..{alphasCumprod.Length - 1}");
        return (int)timestep;
    }

    /// <summary>Throws unless <see cref="SetTimesteps"/> has run.</summary>
    /// <exception cref="InvalidOperationException">No timesteps yet.</exception>
    protected void RequireTimesteps()
    {
        if (NumInferenceSteps is null)
            throw new InvalidOperationException($"{Config.ClassName}: call SetTimesteps before Step");
    }

    /// <summary>Checks <paramref name="numInferenceSteps"/> against 1..<paramref name="max"/>.</summary>
    /// <exception cref="ArgumentOutOfRangeException">It is out of range.</exception>
    protected static void CheckStepCount(int numInferenceSteps, int max)
    {
        if (numInferenceSteps < 1 || numInferenceSteps > max)
            throw new ArgumentOutOfRangeException(nameof(numInferenceSteps), numInferenceSteps, $"expected 1..{max} (num_train_timesteps)");
    }

    /// <summary>
    /// Checks a step's spans and returns the batch size: one noise source per sample when <paramref name="noise"/> is given, else 1.
    /// </summary>
    /// <exception cref="ArgumentException">The lengths differ, or the sample does not split evenly into one part per noise source.</exception>
    protected static int StepBatch(ReadOnlySpan<float> modelOutput, ReadOnlySpan<float> sample, IReadOnlyList<INoiseSource>? noise)
    {
        if (modelOutput.Length != sample.Length)
            throw new ArgumentException($"model output has {modelOutput.Length} values, sample {sample.Length}; expected the same");
        if (noise is null || noise.Count == 0) return 1;
        if (sample.Length % noise.Count != 0)
            throw new ArgumentException($"sample of {sample.Length} values does not split into {noise.Count} samples (one noise source each)");
        return noise.Count;
    }

    /// <summary>Fills <paramref name="destination"/> with fresh noise, each sample's part from its own source.</summary>
    /// <exception cref="ArgumentException"><paramref name="noise"/> is null or empty: this step needs noise.</exception>
    protected void DrawNoise(IReadOnlyList<INoiseSource>? noise, Span<float> destination)
    {
        if (noise is null || noise.Count == 0)
            throw new ArgumentException($"{Config.ClassName} needs noise for this step; pass one INoiseSource per sample (e.g. GaussianNoise)", nameof(noise));
        int per = destination.Length / noise.Count;
        for (int b = 0; b < noise.Count; b++) noise[b].NextGaussian(destination.Slice(b * per, per));
    }

    static int PerSample(ReadOnlySpan<float> a, ReadOnlySpan<float> b, ReadOnlySpan<int> timesteps, Span<float> destination)
    {
        if (a.Length != b.Length || a.Length != destination.Length)
            throw new ArgumentException($"lengths differ: {a.Length}, {b.Length} and destination {destination.Length}");
        if (timesteps.Length == 0 || a.Length % timesteps.Length != 0)
            throw new ArgumentException($"{a.Length} values do not split into {timesteps.Length} samples (one timestep each)");
        return a.Length / timesteps.Length;
    }
}
