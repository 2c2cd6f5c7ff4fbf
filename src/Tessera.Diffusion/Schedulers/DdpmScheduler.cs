namespace Tessera.Diffusion.Schedulers;

/// <summary>
/// Diffusers' <c>DDPMScheduler</c> (Ho et al. 2020): ancestral sampling with the posterior mean of x_{t-1} given
/// the predicted x0, plus fresh noise scaled by the <c>variance_type</c> variance on every step but the last. The
/// previous timestep is the next one of <see cref="NoiseScheduler.Timesteps"/> (t - 1 before
/// <see cref="SetTimesteps"/>). <c>variance_type</c> <c>learned</c>, <c>learned_range</c> and
/// <c>fixed_large_log</c> are not supported (the first two need the model's extra variance channels); null acts as fixed_small, as in diffusers.
/// </summary>
public sealed class DdpmScheduler : NoiseScheduler
{
    /// <summary>Diffusers' class name, <c>DDPMScheduler</c>.</summary>
    public const string DiffusersClassName = "DDPMScheduler";

    /// <summary>
    /// A DdpmScheduler from another scheduler's config, like diffusers' <c>from_config</c>: the fields <paramref name="other"/>
    /// has are kept (unknown keys too), the others take this class's defaults.
    /// </summary>
    /// <exception cref="Tessera.Formats.TesseraFormatException">A kept field is unsupported by this class.</exception>
    public static DdpmScheduler FromConfig(SchedulerConfig other) => new(Schedulers.ConfigFor(DiffusersClassName, other));

    /// <summary>Creates the scheduler from <paramref name="config"/> (DDPM's defaults for the fields it lacks: <see cref="SchedulerConfig.ForClass"/>).</summary>
    /// <exception cref="Tessera.Formats.TesseraFormatException">A field is out of range or unsupported; the message names it.</exception>
    public DdpmScheduler(SchedulerConfig? config = null) : base(config ?? SchedulerConfig.ForClass(DiffusersClassName), DiffusersClassName)
    {
        // null (a DPM-Solver config's value) gives fixed_small's variance in diffusers too.
        if (Config.VarianceType is not (null or "fixed_small" or "fixed_small_log" or "fixed_large"))
            throw Config.Error("variance_type", $"'{Config.VarianceType}' is not supported; expected fixed_small, fixed_small_log or fixed_large");
        TimestepArray = Enumerable.Range(0, Config.NumTrainTimesteps).Reverse().Select(t => (double)t).ToArray();
    }

    /// <inheritdoc/>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="numInferenceSteps"/> is not in 1..num_train_timesteps.</exception>
    public override void SetTimesteps(int numInferenceSteps)
    {
        CheckStepCount(numInferenceSteps, Config.NumTrainTimesteps);
        TimestepArray = NoiseSchedule.SpacedTimesteps(Config, numInferenceSteps, Config.NumTrainTimesteps);
        NumInferenceSteps = numInferenceSteps;
    }

    /// <summary>The timestep after <paramref name="timestep"/> in the current run (-1 after the last), or t - 1 before <see cref="SetTimesteps"/>.</summary>
    /// <exception cref="ArgumentException"><paramref name="timestep"/> is not one of <see cref="NoiseScheduler.Timesteps"/>.</exception>
    public int PreviousTimestep(int timestep)
    {
        if (NumInferenceSteps is null) return timestep - 1;
        int index = Array.IndexOf(TimestepArray, (double)timestep);
        if (index < 0) throw new ArgumentException($"timestep {timestep} is not one of this run's timesteps", nameof(timestep));
        return index == TimestepArray.Length - 1 ? -1 : (int)TimestepArray[index + 1];
    }

    /// <inheritdoc/>
    /// <remarks>Thresholding (when configured) treats the sample as one sample per noise source.</remarks>
    /// <exception cref="ArgumentException">Spans differ in length, the timestep is unknown, or noise is missing for a step before the last.</exception>
    public override SchedulerStepOutput Step(ReadOnlySpan<float> modelOutput, double timestep, ReadOnlySpan<float> sample, IReadOnlyList<INoiseSource>? noise = null)
    {
        int batch = StepBatch(modelOutput, sample, noise);
        int t = TrainIndex(timestep);
        int prevT = PreviousTimestep(t);
        float alphaProd = AlphaBar[t];
        float alphaProdPrev = prevT >= 0 ? AlphaBar[prevT] : 1f;
        float betaProd = 1f - alphaProd, betaProdPrev = 1f - alphaProdPrev;
        float currentAlpha = alphaProd / alphaProdPrev, currentBeta = 1f - currentAlpha;

        var x0 = new float[sample.Length];
        NoiseSchedule.PredictOriginal(Config.PredictionType, alphaProd, modelOutput, sample, x0);
        if (Config.Thresholding) NoiseSchedule.DynamicThreshold(x0, batch, Config.DynamicThresholdingRatio, Config.SampleMaxValue);
        else if (Config.ClipSample) ClipInPlace(x0, (float)Config.ClipSampleRange);

        // Posterior mean of q(x_{t-1} | x_t, x0), formula (7) of the DDPM paper.
        float x0Coeff = MathF.Sqrt(alphaProdPrev) * currentBeta / betaProd;
        float sampleCoeff = MathF.Sqrt(currentAlpha) * betaProdPrev / betaProd;
        var prev = new float[sample.Length];
        for (int i = 0; i < prev.Length; i++) prev[i] = x0Coeff * x0[i] + sampleCoeff * sample[i];

        if (t > 0)
        {
            var z = new float[sample.Length];
            DrawNoise(noise, z);
            float variance = MathF.Max(betaProdPrev / betaProd * currentBeta, 1e-20f);
            float std = Config.VarianceType switch
            {
                "fixed_small_log" => MathF.Exp(0.5f * MathF.Log(variance)),
                "fixed_large" => MathF.Sqrt(currentBeta),
                _ => MathF.Sqrt(variance),
            };
            for (int i = 0; i < prev.Length; i++) prev[i] += std * z[i];
        }
        return new SchedulerStepOutput(prev, x0);
    }

    internal static void ClipInPlace(Span<float> values, float range)
    {
        for (int i = 0; i < values.Length; i++) values[i] = Math.Clamp(values[i], -range, range);
    }
}
