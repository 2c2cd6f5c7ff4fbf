namespace Tessera.Diffusion.Schedulers;

/// <summary>
/// Diffusers' <c>EulerAncestralDiscreteScheduler</c>: an Euler step down to <c>sigma_down</c>, then fresh noise of
/// scale <c>sigma_up</c> (<c>sigma_up^2 = sigma_next^2 (sigma^2 - sigma_next^2) / sigma^2</c>,
/// <c>sigma_down^2 = sigma_next^2 - sigma_up^2</c>), on every step, so every step needs noise sources. Model input
/// scaled by <c>1 / sqrt(sigma^2 + 1)</c>. (diffusers rejects <c>prediction_type</c> sample here; this port takes
/// the model output as x0.)
/// </summary>
public sealed class EulerAncestralDiscreteScheduler : SigmaScheduler
{
    /// <summary>Diffusers' class name, <c>EulerAncestralDiscreteScheduler</c>.</summary>
    public const string DiffusersClassName = "EulerAncestralDiscreteScheduler";

    /// <summary>
    /// A EulerAncestralDiscreteScheduler from another scheduler's config, like diffusers' <c>from_config</c>: the fields <paramref name="other"/>
    /// has are kept (unknown keys too), the others take this class's defaults.
    /// </summary>
    /// <exception cref="Tessera.Formats.TesseraFormatException">A kept field is unsupported by this class.</exception>
    public static EulerAncestralDiscreteScheduler FromConfig(SchedulerConfig other) => new(Schedulers.ConfigFor(DiffusersClassName, other));

    /// <summary>Creates the scheduler from <paramref name="config"/> (Euler ancestral's defaults for the fields it lacks).</summary>
    /// <exception cref="Tessera.Formats.TesseraFormatException">A field is out of range or unsupported; the message names it.</exception>
    public EulerAncestralDiscreteScheduler(SchedulerConfig? config = null)
        : base(config ?? SchedulerConfig.ForClass(DiffusersClassName), DiffusersClassName) { }

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
        SigmaArray = [.. InterpolatedSigmas(timesteps).Select(s => (float)s), 0f];
        TimestepArray = timesteps;
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
    /// <exception cref="ArgumentException">Spans differ in length, the timestep is unknown, or noise is missing.</exception>
    /// <exception cref="InvalidOperationException">The run has no step left.</exception>
    public override SchedulerStepOutput Step(ReadOnlySpan<float> modelOutput, double timestep, ReadOnlySpan<float> sample, IReadOnlyList<INoiseSource>? noise = null)
    {
        StepBatch(modelOutput, sample, noise);
        int index = InitStepIndex(timestep);
        CheckStepLeft(index);
        float sigma = SigmaArray[index];

        var x0 = new float[sample.Length];
        switch (Config.PredictionType)
        {
            case "epsilon":
                for (int i = 0; i < x0.Length; i++) x0[i] = sample[i] - sigma * modelOutput[i];
                break;
            case "sample":
                modelOutput.CopyTo(x0);
                break;
            default:
                float c = -sigma / MathF.Sqrt(sigma * sigma + 1), d = sigma * sigma + 1;
                for (int i = 0; i < x0.Length; i++) x0[i] = modelOutput[i] * c + sample[i] / d;
                break;
        }

        float sigmaTo = SigmaArray[index + 1];
        float sigmaUp = MathF.Sqrt(sigmaTo * sigmaTo * (sigma * sigma - sigmaTo * sigmaTo) / (sigma * sigma));
        float sigmaDown = MathF.Sqrt(sigmaTo * sigmaTo - sigmaUp * sigmaUp);
        float dt = sigmaDown - sigma;
        var prev = new float[sample.Length];
        for (int i = 0; i < prev.Length; i++) prev[i] = sample[i] + (sample[i] - x0[i]) / sigma * dt;
        var z = new float[sample.Length];
        DrawNoise(noise, z);
        for (int i = 0; i < prev.Length; i++) prev[i] += z[i] * sigmaUp;
        StepIndex = index + 1;
        return new SchedulerStepOutput(prev, x0);
    }

    /// <summary>The sigma form of forward diffusion: <c>original + sigma_t * noise</c>, sigma_t of each training timestep.</summary>
    /// <exception cref="ArgumentException">The spans differ in length or do not split into one sample per timestep, or a timestep is not a training timestep.</exception>
    public override void AddNoise(ReadOnlySpan<float> original, ReadOnlySpan<float> noise, ReadOnlySpan<int> timesteps, Span<float> destination) =>
        EulerDiscreteScheduler.AddSigmaNoise(this, TrainSigmas, original, noise, timesteps, destination);
}
