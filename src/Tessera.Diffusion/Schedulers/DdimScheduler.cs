namespace Tessera.Diffusion.Schedulers;

/// <summary>
/// Diffusers' <c>DDIMScheduler</c> (Song et al. 2021): deterministic for <see cref="Eta"/> = 0, DDPM-like noise
/// for eta = 1. Like diffusers, the previous timestep is always <c>t - num_train_timesteps // steps</c>, whatever
/// <c>timestep_spacing</c> chose; with <c>linspace</c> or <c>trailing</c> spacing that is not the next timestep of
/// the run (diffusers' known quirk, kept so results match diffusers). Before the first training step the alpha-bar
/// is 1 (<c>set_alpha_to_one</c>, default) or alpha-bar[0].
/// </summary>
public sealed class DdimScheduler : NoiseScheduler
{
    /// <summary>Diffusers' class name, <c>DDIMScheduler</c>.</summary>
    public const string DiffusersClassName = "DDIMScheduler";

    readonly float finalAlphaCumprod;

    /// <summary>
    /// A DdimScheduler from another scheduler's config, like diffusers' <c>from_config</c>: the fields <paramref name="other"/>
    /// has are kept (unknown keys too), the others take this class's defaults.
    /// </summary>
    /// <exception cref="Tessera.Formats.TesseraFormatException">A kept field is unsupported by this class.</exception>
    public static DdimScheduler FromConfig(SchedulerConfig other) => new(Schedulers.ConfigFor(DiffusersClassName, other));

    /// <summary>Creates the scheduler from <paramref name="config"/> (DDIM's defaults for the fields it lacks).</summary>
    /// <exception cref="Tessera.Formats.TesseraFormatException">A field is out of range or unsupported; the message names it.</exception>
    public DdimScheduler(SchedulerConfig? config = null) : base(config ?? SchedulerConfig.ForClass(DiffusersClassName), DiffusersClassName)
    {
        finalAlphaCumprod = Config.SetAlphaToOne ? 1f : AlphaBar[0];
        TimestepArray = Enumerable.Range(0, Config.NumTrainTimesteps).Reverse().Select(t => (double)t).ToArray();
    }

    /// <summary>DDIM's eta (diffusers' <c>step(eta=...)</c>): 0 (default) is deterministic, 1 adds DDPM's variance.</summary>
    public double Eta { get; set; }

    /// <summary>Re-derive epsilon from the clipped x0 (diffusers' <c>use_clipped_model_output</c>; default false).</summary>
    public bool UseClippedModelOutput { get; set; }

    /// <inheritdoc/>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="numInferenceSteps"/> is not in 1..num_train_timesteps.</exception>
    public override void SetTimesteps(int numInferenceSteps)
    {
        CheckStepCount(numInferenceSteps, Config.NumTrainTimesteps);
        TimestepArray = NoiseSchedule.SpacedTimesteps(Config, numInferenceSteps, Config.NumTrainTimesteps);
        NumInferenceSteps = numInferenceSteps;
    }

    /// <inheritdoc/>
    /// <remarks>Thresholding (when configured) treats the sample as one sample per noise source.</remarks>
    /// <exception cref="InvalidOperationException"><see cref="SetTimesteps"/> has not run.</exception>
    /// <exception cref="ArgumentException">Spans differ in length, or <see cref="Eta"/> &gt; 0 and noise is missing.</exception>
    public override SchedulerStepOutput Step(ReadOnlySpan<float> modelOutput, double timestep, ReadOnlySpan<float> sample, IReadOnlyList<INoiseSource>? noise = null)
    {
        RequireTimesteps();
        int batch = StepBatch(modelOutput, sample, noise);
        int t = TrainIndex(timestep);
        int prevT = t - Config.NumTrainTimesteps / NumInferenceSteps!.Value;
        float alphaProd = AlphaBar[t];
        float alphaProdPrev = prevT >= 0 ? AlphaBar[prevT] : finalAlphaCumprod;
        float betaProd = 1f - alphaProd, betaProdPrev = 1f - alphaProdPrev;

        var x0 = new float[sample.Length];
        var epsilon = new float[sample.Length];
        NoiseSchedule.PredictOriginal(Config.PredictionType, alphaProd, modelOutput, sample, x0);
        NoiseSchedule.PredictEpsilon(Config.PredictionType, alphaProd, modelOutput, sample, x0, epsilon);
        if (Config.Thresholding) NoiseSchedule.DynamicThreshold(x0, batch, Config.DynamicThresholdingRatio, Config.SampleMaxValue);
        else if (Config.ClipSample) DdpmScheduler.ClipInPlace(x0, (float)Config.ClipSampleRange);

        // sigma_t(eta) of formula (16) in the DDIM paper.
        float variance = betaProdPrev / betaProd * (1f - alphaProd / alphaProdPrev);
        float std = (float)Eta * MathF.Sqrt(variance);
        if (UseClippedModelOutput)
        {
            float sqrtA = MathF.Sqrt(alphaProd), sqrtB = MathF.Sqrt(betaProd);
            for (int i = 0; i < epsilon.Length; i++) epsilon[i] = (sample[i] - sqrtA * x0[i]) / sqrtB;
        }

        // Formula (12): x_{t-1} = sqrt(a_prev) x0 + sqrt(1 - a_prev - sigma^2) eps + sigma z.
        float directionCoeff = MathF.Sqrt(1f - alphaProdPrev - std * std);
        float x0Coeff = MathF.Sqrt(alphaProdPrev);
        var prev = new float[sample.Length];
        for (int i = 0; i < prev.Length; i++) prev[i] = x0Coeff * x0[i] + directionCoeff * epsilon[i];
        if (Eta > 0)
        {
            var z = new float[sample.Length];
            DrawNoise(noise, z);
            for (int i = 0; i < prev.Length; i++) prev[i] += std * z[i];
        }
        return new SchedulerStepOutput(prev, x0);
    }
}
