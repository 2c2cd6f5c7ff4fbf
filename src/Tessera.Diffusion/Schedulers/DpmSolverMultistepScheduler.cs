namespace Tessera.Diffusion.Schedulers;

/// <summary>
/// Diffusers' <c>DPMSolverMultistepScheduler</c> (Lu et al. 2022, DPM-Solver++): multistep solver in log-SNR
/// (lambda) on the data prediction x0, orders 1 and 2 (<c>solver_order</c>; 3 is not supported here), second-order
/// rule <c>midpoint</c> or <c>heun</c>, and the stochastic <c>sde-dpmsolver++</c> (needs noise sources on every
/// step). As in diffusers, the last step is first order when <c>final_sigmas_type</c> is zero, with
/// <c>euler_at_final</c>, or with <c>lower_order_final</c> and fewer than 15 steps; <c>lambda_min_clipped</c>
/// trims the noisiest timesteps. The model input is not scaled and the initial noise sigma is 1.
/// </summary>
public sealed class DpmSolverMultistepScheduler : SigmaScheduler
{
    /// <summary>Diffusers' class name, <c>DPMSolverMultistepScheduler</c>.</summary>
    public const string DiffusersClassName = "DPMSolverMultistepScheduler";

    readonly float[] lambdas;
    readonly bool stochastic;
    readonly bool heun;
    float[]?[] modelOutputs = [];
    int lowerOrderNums;

    /// <summary>
    /// A DpmSolverMultistepScheduler from another scheduler's config, like diffusers' <c>from_config</c>: the fields <paramref name="other"/>
    /// has are kept (unknown keys too), the others take this class's defaults.
    /// </summary>
    /// <exception cref="Tessera.Formats.TesseraFormatException">A kept field is unsupported by this class.</exception>
    public static DpmSolverMultistepScheduler FromConfig(SchedulerConfig other) => new(Schedulers.ConfigFor(DiffusersClassName, other));

    /// <summary>Creates the scheduler from <paramref name="config"/> (DPM-Solver's defaults for the fields it lacks).</summary>
    /// <exception cref="Tessera.Formats.TesseraFormatException">A field is out of range or unsupported; the message names it.</exception>
    public DpmSolverMultistepScheduler(SchedulerConfig? config = null) : base(config ?? SchedulerConfig.ForClass(DiffusersClassName), DiffusersClassName)
    {
        RejectUnsupportedSpacings();
        // diffusers maps DEIS's algorithm and UniPC's solver types onto these when swapping schedulers.
        string algorithm = Config.AlgorithmType == "deis" ? "dpmsolver++" : Config.AlgorithmType;
        if (algorithm is not ("dpmsolver++" or "sde-dpmsolver++"))
            throw Config.Error("algorithm_type", $"'{Config.AlgorithmType}' is not supported; expected dpmsolver++ or sde-dpmsolver++");
        stochastic = algorithm == "sde-dpmsolver++";
        string solver = Config.SolverType is "logrho" or "bh1" or "bh2" ? "midpoint" : Config.SolverType;
        if (solver is not ("midpoint" or "heun"))
            throw Config.Error("solver_type", $"'{Config.SolverType}' is not supported; expected midpoint or heun");
        heun = solver == "heun";
        if (Config.SolverOrder is not (1 or 2))
            throw Config.Error("solver_order", $"{Config.SolverOrder} is not supported; expected 1 or 2");
        // diffusers reads variance_type here only to slice learned variance channels off; other values (a DDPM
        // config's fixed_small) are ignored, as there.
        if (Config.VarianceType is "learned" or "learned_range")
            throw Config.Error("variance_type", $"'{Config.VarianceType}' is not supported (learned variance needs the model's extra channels)");

        lambdas = new float[AlphaBar.Length];
        for (int i = 0; i < lambdas.Length; i++)
            lambdas[i] = MathF.Log(MathF.Sqrt(AlphaBar[i])) - MathF.Log(MathF.Sqrt(1f - AlphaBar[i]));
    }

    /// <inheritdoc/>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="numInferenceSteps"/> is not in 1..num_train_timesteps.</exception>
    public override void SetTimesteps(int numInferenceSteps)
    {
        int trainSteps = Config.NumTrainTimesteps;
        CheckStepCount(numInferenceSteps, trainSteps);
        // lambda falls with t; drop the timesteps whose lambda is below lambda_min_clipped (torch.searchsorted, left).
        int clipped = 0;
        while (clipped < lambdas.Length && lambdas[^(clipped + 1)] < Config.LambdaMinClipped) clipped++;
        int lastTimestep = trainSteps - clipped;
        if (lastTimestep < 1) throw Config.Error("lambda_min_clipped", $"{Config.LambdaMinClipped} clips every timestep");

        double[] timesteps;
        switch (Config.TimestepSpacing)
        {
            case "linspace":
                timesteps = NoiseSchedule.NumpyLinspace(0, lastTimestep - 1, numInferenceSteps + 1).Select(t => Math.Round(t)).Reverse().Take(numInferenceSteps).ToArray();
                break;
            case "leading":
                int ratio = lastTimestep / (numInferenceSteps + 1);
                timesteps = Enumerable.Range(0, numInferenceSteps).Select(i => (double)(numInferenceSteps - i) * ratio + Config.StepsOffset).ToArray();
                break;
            default:
                timesteps = NoiseSchedule.NumpyArange(lastTimestep, 0, -((double)trainSteps / numInferenceSteps)).Select(t => Math.Round(t) - 1).ToArray();
                break;
        }

        double[] sigmas;
        if (Config.UseKarrasSigmas)
        {
            sigmas = NoiseSchedule.KarrasSigmas(Config.SigmaMin ?? TrainSigmas[0], Config.SigmaMax ?? TrainSigmas[^1], numInferenceSteps);
            float[] logSigmas = LogTrainSigmas();
            bool round = Config.BetaSchedule != "squaredcos_cap_v2";
            timesteps = sigmas.Select(s => NoiseSchedule.SigmaToTimestep(s, logSigmas)).Select(t => Math.Truncate(round ? Math.Round(t) : t)).ToArray();
        }
        else
        {
            sigmas = InterpolatedSigmas(timesteps);
        }
        SigmaArray = [.. sigmas.Select(s => (float)s), FinalSigma];
        TimestepArray = timesteps;
        NumInferenceSteps = timesteps.Length;
        modelOutputs = new float[Config.SolverOrder][];
        lowerOrderNums = 0;
        StepIndex = null;
    }

    /// <inheritdoc/>
    /// <remarks>Thresholding (when configured) treats the sample as one sample per noise source. <see cref="SchedulerStepOutput.PredOriginalSample"/> is the data prediction the solver used.</remarks>
    /// <exception cref="InvalidOperationException"><see cref="SetTimesteps"/> has not run, or the run has no step left.</exception>
    /// <exception cref="ArgumentException">Spans differ in length, or sde-dpmsolver++ has no noise.</exception>
    public override SchedulerStepOutput Step(ReadOnlySpan<float> modelOutput, double timestep, ReadOnlySpan<float> sample, IReadOnlyList<INoiseSource>? noise = null)
    {
        RequireTimesteps();
        int batch = StepBatch(modelOutput, sample, noise);
        int index = InitStepIndex(timestep, lastWhenMissing: true);
        CheckStepLeft(index);
        int count = TimestepArray.Length;
        bool lowerOrderFinal = index == count - 1
            && (Config.EulerAtFinal || (Config.LowerOrderFinal && count < 15) || Config.FinalSigmasType == "zero");
        bool lowerOrderSecond = index == count - 2 && Config.LowerOrderFinal && count < 15;

        // Data prediction x0 at this step's sigma (alpha_t = 1 / sqrt(sigma^2 + 1), sigma_t = sigma * alpha_t).
        var (alphaS0, sigmaS0) = AlphaSigma(SigmaArray[index]);
        var x0 = new float[sample.Length];
        switch (Config.PredictionType)
        {
            case "epsilon":
                for (int i = 0; i < x0.Length; i++) x0[i] = (sample[i] - sigmaS0 * modelOutput[i]) / alphaS0;
                break;
            case "sample":
                modelOutput.CopyTo(x0);
                break;
            default:
                for (int i = 0; i < x0.Length; i++) x0[i] = alphaS0 * sample[i] - sigmaS0 * modelOutput[i];
                break;
        }
        if (Config.Thresholding) NoiseSchedule.DynamicThreshold(x0, batch, Config.DynamicThresholdingRatio, Config.SampleMaxValue);
        for (int i = 0; i < modelOutputs.Length - 1; i++) modelOutputs[i] = modelOutputs[i + 1];
        modelOutputs[^1] = x0;

        float[]? z = null;
        if (stochastic)
        {
            z = new float[sample.Length];
            DrawNoise(noise, z);
        }

        var (alphaT, sigmaT) = AlphaSigma(SigmaArray[index + 1]);
        float lambdaT = MathF.Log(alphaT) - MathF.Log(sigmaT);
        float lambdaS0 = MathF.Log(alphaS0) - MathF.Log(sigmaS0);
        float h = lambdaT - lambdaS0;
        var prev = new float[sample.Length];
        bool firstOrder = Config.SolverOrder == 1 || lowerOrderNums < 1 || lowerOrderFinal;
        if (firstOrder)
        {
            if (!stochastic)
            {
                float a = sigmaT / sigmaS0, b = alphaT * (MathF.Exp(-h) - 1f);
                for (int i = 0; i < prev.Length; i++) prev[i] = a * sample[i] - b * x0[i];
            }
            else
            {
                float a = sigmaT / sigmaS0 * MathF.Exp(-h), b = alphaT * (1f - MathF.Exp(-2f * h)), c = sigmaT * MathF.Sqrt(1f - MathF.Exp(-2f * h));
                for (int i = 0; i < prev.Length; i++) prev[i] = a * sample[i] + b * x0[i] + c * z![i];
            }
        }
        else
        {
            // Second order from the last two data predictions (lowerOrderSecond only matters for order 3).
            _ = lowerOrderSecond;
            var (alphaS1, sigmaS1) = AlphaSigma(SigmaArray[index - 1]);
            float lambdaS1 = MathF.Log(alphaS1) - MathF.Log(sigmaS1);
            float r0 = (lambdaS0 - lambdaS1) / h;
            float[] m0 = modelOutputs[^1]!, m1 = modelOutputs[^2]!;
            float inverseR0 = 1f / r0;
            if (!stochastic)
            {
                float a = sigmaT / sigmaS0, b = alphaT * (MathF.Exp(-h) - 1f);
                float c = heun ? alphaT * ((MathF.Exp(-h) - 1f) / h + 1f) : 0.5f * b;
                for (int i = 0; i < prev.Length; i++)
                {
                    float d1 = inverseR0 * (m0[i] - m1[i]);
                    prev[i] = heun ? a * sample[i] - b * m0[i] + c * d1 : a * sample[i] - b * m0[i] - c * d1;
                }
            }
            else
            {
                float e2h = MathF.Exp(-2f * h);
                float a = sigmaT / sigmaS0 * MathF.Exp(-h), b = alphaT * (1f - e2h);
                float c = heun ? alphaT * ((1f - e2h) / (-2f * h) + 1f) : 0.5f * b;
                float n = sigmaT * MathF.Sqrt(1f - e2h);
                for (int i = 0; i < prev.Length; i++)
                {
                    float d1 = inverseR0 * (m0[i] - m1[i]);
                    prev[i] = a * sample[i] + b * m0[i] + c * d1 + n * z![i];
                }
            }
        }
        if (lowerOrderNums < Config.SolverOrder) lowerOrderNums++;
        StepIndex = index + 1;
        return new SchedulerStepOutput(prev, x0);
    }

    static (float Alpha, float Sigma) AlphaSigma(float sigma)
    {
        float alpha = 1f / MathF.Sqrt(sigma * sigma + 1f);
        return (alpha, sigma * alpha);
    }
}
