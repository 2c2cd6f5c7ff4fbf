namespace Tessera.Diffusion.Schedulers;

/// <summary>
/// Diffusers' <c>EulerDiscreteScheduler</c> (Karras et al. 2022, algorithm 2): Euler steps in sigma,
/// <c>x += (x - x0) / sigma * (sigma_next - sigma)</c>, with the model input scaled by <c>1 / sqrt(sigma^2 + 1)</c>.
/// Timesteps are fractional with <c>linspace</c> spacing; <c>use_karras_sigmas</c> respaces the sigmas (rho = 7)
/// and maps them back to timesteps. Churn (<see cref="SChurn"/> &gt; 0) adds noise, so it needs noise sources.
/// <c>interpolation_type</c> log_linear and the exponential/beta sigma spacings are not supported.
/// </summary>
public sealed class EulerDiscreteScheduler : SigmaScheduler
{
    /// <summary>Diffusers' class name, <c>EulerDiscreteScheduler</c>.</summary>
    public const string DiffusersClassName = "EulerDiscreteScheduler";

    /// <summary>
    /// A EulerDiscreteScheduler from another scheduler's config, like diffusers' <c>from_config</c>: the fields <paramref name="other"/>
    /// has are kept (unknown keys too), the others take this class's defaults.
    /// </summary>
    /// <exception cref="Tessera.Formats.TesseraFormatException">A kept field is unsupported by this class.</exception>
    public static EulerDiscreteScheduler FromConfig(SchedulerConfig other) => new(Schedulers.ConfigFor(DiffusersClassName, other));

    /// <summary>Creates the scheduler from <paramref name="config"/> (Euler's defaults for the fields it lacks).</summary>
    /// <exception cref="Tessera.Formats.TesseraFormatException">A field is out of range or unsupported; the message names it.</exception>
    public EulerDiscreteScheduler(SchedulerConfig? config = null) : base(config ?? SchedulerConfig.ForClass(DiffusersClassName), DiffusersClassName)
    {
        RejectUnsupportedSpacings();
        if (Config.InterpolationType != "linear")
            throw Config.Error("interpolation_type", $"'{Config.InterpolationType}' is not supported; expected linear");
        if (Config.TimestepType is not ("discrete" or "continuous"))
            throw Config.Error("timestep_type", $"'{Config.TimestepType}' is not supported; expected discrete or continuous");
        if (ContinuousTimesteps) TimestepArray = SigmaArray[..^1].Select(s => (double)(0.25f * MathF.Log(s))).ToArray();
    }

    bool ContinuousTimesteps => Config.TimestepType == "continuous" && Config.PredictionType == "v_prediction";

    /// <summary>Karras' S_churn (diffusers' <c>step(s_churn=...)</c>; default 0: no churn).</summary>
    public double SChurn { get; set; }

    /// <summary>Karras' S_tmin: churn only where sigma ≥ this (default 0).</summary>
    public double STmin { get; set; }

    /// <summary>Karras' S_tmax: churn only where sigma ≤ this (default +∞).</summary>
    public double STmax { get; set; } = double.PositiveInfinity;

    /// <summary>Karras' S_noise: the scale of the churn noise (default 1).</summary>
    public double SNoise { get; set; } = 1.0;

    /// <inheritdoc/>
    public override double InitNoiseSigma
    {
        get
        {
            float max = SigmaArray.Max();
            return Config.TimestepSpacing is "linspace" or "trailing" ? max : MathF.Sqrt(max * max + 1);
        }
    }

    /// <inheritdoc/>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="numInferenceSteps"/> is not in 1..num_train_timesteps.</exception>
    public override void SetTimesteps(int numInferenceSteps)
    {
        CheckStepCount(numInferenceSteps, Config.NumTrainTimesteps);
        double[] timesteps = NoiseSchedule.SpacedTimesteps(Config, numInferenceSteps, Config.NumTrainTimesteps, round: false);
        double[] sigmas = InterpolatedSigmas(timesteps);
        if (Config.UseKarrasSigmas)
        {
            sigmas = NoiseSchedule.KarrasSigmas(Config.SigmaMin ?? sigmas[^1], Config.SigmaMax ?? sigmas[0], numInferenceSteps);
            float[] logSigmas = LogTrainSigmas();
            timesteps = sigmas.Select(s => (double)(float)NoiseSchedule.SigmaToTimestep(s, logSigmas)).ToArray();
        }
        SigmaArray = [.. sigmas.Select(s => (float)s), FinalSigma];
        TimestepArray = ContinuousTimesteps ? SigmaArray[..^1].Select(s => (double)(0.25f * MathF.Log(s))).ToArray() : timesteps;
        NumInferenceSteps = numInferenceSteps;
        StepIndex = null;
    }

    /// <inheritdoc/>
    /// <exception cref="ArgumentException"><paramref name="timestep"/> is not one of this run's timesteps.</exception>
    public override void ScaleModelInput(Span<float> sample, double timestep)
    {
        float sigma = SigmaArray[InitStepIndex(timestep)];
        float scale = MathF.Sqrt(sigma * sigma + 1);
        for (int i = 0; i < sample.Length; i++) sample[i] /= scale;
    }

    /// <inheritdoc/>
    /// <exception cref="ArgumentException">Spans differ in length, the timestep is unknown, or churn needs noise that is missing.</exception>
    /// <exception cref="InvalidOperationException">The run has no step left.</exception>
    public override SchedulerStepOutput Step(ReadOnlySpan<float> modelOutput, double timestep, ReadOnlySpan<float> sample, IReadOnlyList<INoiseSource>? noise = null)
    {
        StepBatch(modelOutput, sample, noise);
        int index = InitStepIndex(timestep);
        CheckStepLeft(index);
        float sigma = SigmaArray[index];
        double gamma = STmin <= sigma && sigma <= STmax ? Math.Min(SChurn / (SigmaArray.Length - 1), Math.Sqrt(2) - 1) : 0;
        float sigmaHat = sigma * (float)(gamma + 1);

        var x = sample.ToArray();
        if (gamma > 0)
        {
            var z = new float[x.Length];
            DrawNoise(noise, z);
            float scale = MathF.Sqrt(sigmaHat * sigmaHat - sigma * sigma);
            for (int i = 0; i < x.Length; i++) x[i] += z[i] * (float)SNoise * scale;
        }

        var x0 = new float[x.Length];
        switch (Config.PredictionType)
        {
            case "epsilon":
                for (int i = 0; i < x0.Length; i++) x0[i] = x[i] - sigmaHat * modelOutput[i];
                break;
            case "sample":
                modelOutput.CopyTo(x0);
                break;
            default:
                float c = -sigma / MathF.Sqrt(sigma * sigma + 1), d = sigma * sigma + 1;
                for (int i = 0; i < x0.Length; i++) x0[i] = modelOutput[i] * c + x[i] / d;
                break;
        }

        float dt = SigmaArray[index + 1] - sigmaHat;
        var prev = new float[x.Length];
        for (int i = 0; i < prev.Length; i++) prev[i] = x[i] + (x[i] - x0[i]) / sigmaHat * dt;
        StepIndex = index + 1;
        return new SchedulerStepOutput(prev, x0);
    }

    /// <summary>The sigma form of forward diffusion: <c>original + sigma_t * noise</c>, sigma_t of each training timestep.</summary>
    /// <exception cref="ArgumentException">The spans differ in length or do not split into one sample per timestep, or a timestep is not a training timestep.</exception>
    public override void AddNoise(ReadOnlySpan<float> original, ReadOnlySpan<float> noise, ReadOnlySpan<int> timesteps, Span<float> destination) =>
        AddSigmaNoise(this, TrainSigmas, original, noise, timesteps, destination);

    internal static void AddSigmaNoise(NoiseScheduler scheduler, float[] trainSigmas, ReadOnlySpan<float> original, ReadOnlySpan<float> noise, ReadOnlySpan<int> timesteps, Span<float> destination)
    {
        if (original.Length != noise.Length || original.Length != destination.Length || timesteps.Length == 0 || original.Length % timesteps.Length != 0)
            throw new ArgumentException($"{original.Length} values, {noise.Length} noise values and destination {destination.Length} do not split into {timesteps.Length} samples");
        int per = original.Length / timesteps.Length;
        for (int b = 0; b < timesteps.Length; b++)
        {
            if (timesteps[b] < 0 || timesteps[b] >= trainSigmas.Length)
                throw new ArgumentException($"timestep {timesteps[b]} is outside 0..{trainSigmas.Length - 1}", nameof(timesteps));
            float sigma = trainSigmas[timesteps[b]];
            for (int i = b * per; i < (b + 1) * per; i++) destination[i] = original[i] + noise[i] * sigma;
        }
    }
}
