namespace Tessera.Diffusion.Schedulers;

/// <summary>
/// A scheduler that walks a table of sigmas (<c>sqrt((1 - alpha_bar) / alpha_bar)</c>), one per inference step plus
/// the final one, and keeps a step index between <see cref="IDiffusionScheduler.Step"/> calls: the Euler schedulers
/// and DPM-Solver. The step index starts at the position of the first timestep passed in, as in diffusers.
/// </summary>
public abstract class SigmaScheduler : NoiseScheduler
{
    /// <summary>Builds the training tables; with <c>rescale_betas_zero_snr</c> the last alpha-bar becomes 2^-24 (as diffusers does, to keep sigma finite).</summary>
    /// <exception cref="Tessera.Formats.TesseraFormatException">A field is out of range or unsupported; the message names it.</exception>
    protected SigmaScheduler(SchedulerConfig config, string className) : base(config, className)
    {
        if (Config.RescaleBetasZeroSnr) AlphaBar[^1] = 1f / (1 << 24);
        TrainSigmas = NoiseSchedule.TrainSigmas(AlphaBar);
        var sigmas = new float[TrainSigmas.Length + 1];
        for (int i = 0; i < TrainSigmas.Length; i++) sigmas[i] = TrainSigmas[^(i + 1)];
        SigmaArray = sigmas;
        TimestepArray = Enumerable.Range(0, Config.NumTrainTimesteps).Reverse().Select(t => (double)t).ToArray();
    }

    /// <summary>The sigma of each training timestep (float32).</summary>
    protected float[] TrainSigmas { get; }

    /// <summary>The sigmas of the current run: one per timestep, then the final sigma (0 or sigma_min).</summary>
    public IReadOnlyList<float> Sigmas => SigmaArray;

    /// <summary>The sigma table of the current run, for derived schedulers.</summary>
    protected float[] SigmaArray { get; set; }

    /// <summary>The index of the next step in <see cref="NoiseScheduler.Timesteps"/>; null until the first call of the run.</summary>
    public int? StepIndex { get; protected set; }

    /// <summary>Starts the step index at <paramref name="timestep"/>'s position when this is the run's first call.</summary>
    /// <exception cref="ArgumentException"><paramref name="timestep"/> is not one of this run's timesteps (and <paramref name="lastWhenMissing"/> is false).</exception>
    protected int InitStepIndex(double timestep, bool lastWhenMissing = false)
    {
        if (StepIndex is int index) return index;
        var matches = new List<int>(2);
        for (int i = 0; i < TimestepArray.Length && matches.Count < 2; i++)
            if (TimestepArray[i] == timestep) matches.Add(i);
        // diffusers takes the second match when a timestep repeats, so an img2img start does not skip a sigma.
        int start = matches.Count switch
        {
            0 when lastWhenMissing => TimestepArray.Length - 1,
            0 => throw new ArgumentException($"timestep {timestep} is not one of this run's timesteps", nameof(timestep)),
            1 => matches[0],
            _ => matches[1],
        };
        StepIndex = start;
        return start;
    }

    /// <summary>Throws when the run has no step left.</summary>
    /// <exception cref="InvalidOperationException">Every step of the run has been taken.</exception>
    protected void CheckStepLeft(int index)
    {
        if (index >= TimestepArray.Length)
            throw new InvalidOperationException($"{Config.ClassName}: all {TimestepArray.Length} steps of this run are done; call SetTimesteps to start another");
    }

    /// <summary>The sigmas of <paramref name="timesteps"/> by linear interpolation in the training table (numpy.interp), as float32.</summary>
    protected double[] InterpolatedSigmas(double[] timesteps)
    {
        var result = new double[timesteps.Length];
        for (int i = 0; i < result.Length; i++) result[i] = (float)NoiseSchedule.InterpolateAtIndex(TrainSigmas, timesteps[i]);
        return result;
    }

    /// <summary>The log of each training sigma (float32, as numpy computes it on a float32 array).</summary>
    protected float[] LogTrainSigmas()
    {
        var result = new float[TrainSigmas.Length];
        for (int i = 0; i < result.Length; i++) result[i] = MathF.Log(TrainSigmas[i]);
        return result;
    }

    /// <summary>Rejects the sigma spacings diffusers has that this port does not.</summary>
    /// <exception cref="Tessera.Formats.TesseraFormatException">use_exponential_sigmas, use_beta_sigmas, use_lu_lambdas or use_flow_sigmas is true.</exception>
    protected void RejectUnsupportedSpacings()
    {
        if (Config.UseExponentialSigmas) throw Config.Error("use_exponential_sigmas", "true is not supported");
        if (Config.UseBetaSigmas) throw Config.Error("use_beta_sigmas", "true is not supported");
        if (Config.UseLuLambdas) throw Config.Error("use_lu_lambdas", "true is not supported");
        if (Config.UseFlowSigmas) throw Config.Error("use_flow_sigmas", "true is not supported");
        if (Config.FinalSigmasType is not ("zero" or "sigma_min"))
            throw Config.Error("final_sigmas_type", $"'{Config.FinalSigmasType}' is not supported; expected zero or sigma_min");
    }

    /// <summary>The sigma after the last step: 0 (<c>final_sigmas_type</c> zero) or the smallest training sigma (sigma_min).</summary>
    protected float FinalSigma => Config.FinalSigmasType == "sigma_min" ? TrainSigmas[0] : 0f;
}
