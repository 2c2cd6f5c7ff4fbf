namespace Tessera.Diffusion.Schedulers;

/// <summary>
/// The math every scheduler shares, in one place: betas and alpha-bar from a config, inference timestep spacing,
/// sigma tables, and the conversions between the model output, epsilon and the predicted x0. Values are computed in
/// float32 where diffusers keeps float32 tensors (betas, alpha-bar, sigmas), so the tables match diffusers' to the
/// last bit or two; numpy-computed parts (timestep spacing, interpolation) follow numpy's float64 arithmetic.
/// </summary>
public static class NoiseSchedule
{
    /// <summary>The betas of <paramref name="config"/>: <c>trained_betas</c>, or <c>beta_schedule</c>, then zero-terminal-SNR rescaling when asked.</summary>
    /// <exception cref="Tessera.Formats.TesseraFormatException">The config fails <see cref="SchedulerConfig.Validate"/>.</exception>
    public static float[] Betas(SchedulerConfig config)
    {
        config.Validate();
        int n = config.NumTrainTimesteps;
        float[] betas;
        if (config.TrainedBetas is { } trained)
        {
            betas = new float[n];
            for (int i = 0; i < n; i++) betas[i] = (float)trained[i];
        }
        else
        {
            betas = config.BetaSchedule switch
            {
                "linear" => TorchLinspace((float)config.BetaStart, (float)config.BetaEnd, n),
                "scaled_linear" => Squared(TorchLinspace((float)Math.Sqrt(config.BetaStart), (float)Math.Sqrt(config.BetaEnd), n)),
                _ => CosineBetas(n),
            };
        }
        return config.RescaleBetasZeroSnr ? RescaleZeroTerminalSnr(betas) : betas;
    }

    /// <summary>The cumulative products of <c>1 - beta</c> (alpha-bar), accumulated in float64 and stored as float32 like torch.cumprod on CPU.</summary>
    public static float[] AlphasCumprod(ReadOnlySpan<float> betas)
    {
        var result = new float[betas.Length];
        double product = 1;
        for (int i = 0; i < betas.Length; i++)
        {
            product *= 1f - betas[i];
            result[i] = (float)product;
        }
        return result;
    }

    /// <summary>The sigma of each training timestep, <c>sqrt((1 - alpha_bar) / alpha_bar)</c>, in float32.</summary>
    public static float[] TrainSigmas(ReadOnlySpan<float> alphasCumprod)
    {
        var result = new float[alphasCumprod.Length];
        for (int i = 0; i < result.Length; i++) result[i] = MathF.Sqrt((1f - alphasCumprod[i]) / alphasCumprod[i]);
        return result;
    }

    /// <summary>torch.linspace in float32 (first half counted from the start, second half from the end).</summary>
    internal static float[] TorchLinspace(float start, float end, int steps)
    {
        var result = new float[steps];
        if (steps == 1) { result[0] = start; return result; }
        float step = (end - start) / (steps - 1);
        int halfway = steps / 2;
        for (int i = 0; i < steps; i++) result[i] = i < halfway ? start + step * i : end - step * (steps - i - 1);
        return result;
    }

    static float[] Squared(float[] values)
    {
        for (int i = 0; i < values.Length; i++) values[i] *= values[i];
        return values;
    }

    // The "squaredcos_cap_v2" (GLIDE cosine) schedule: betas from alpha_bar(t) = cos((t + 0.008) / 1.008 * pi / 2)^2, capped at 0.999.
    static float[] CosineBetas(int n)
    {
        static double AlphaBar(double t) => Math.Pow(Math.Cos((t + 0.008) / 1.008 * Math.PI / 2), 2);
        var betas = new float[n];
        for (int i = 0; i < n; i++)
        {
            double t1 = (double)i / n, t2 = (double)(i + 1) / n;
            betas[i] = (float)Math.Min(1 - AlphaBar(t2) / AlphaBar(t1), 0.999);
        }
        return betas;
    }

    // Lin et al. 2023, "Common Diffusion Noise Schedules and Sample Steps are Flawed", algorithm 1: shift and scale
    // sqrt(alpha_bar) so the last timestep has zero SNR and the first keeps its value.
    static float[] RescaleZeroTerminalSnr(float[] betas)
    {
        float[] alphaBar = AlphasCumprod(betas);
        var root = new float[alphaBar.Length];
        for (int i = 0; i < root.Length; i++) root[i] = MathF.Sqrt(alphaBar[i]);
        float first = root[0], last = root[^1];
        float scale = first / (first - last);
        for (int i = 0; i < root.Length; i++) root[i] = (root[i] - last) * scale;
        var result = new float[betas.Length];
        float previous = 0;
        for (int i = 0; i < result.Length; i++)
        {
            float ab = root[i] * root[i];
            result[i] = 1f - (i == 0 ? ab : ab / previous);
            previous = ab;
        }
        return result;
    }

    /// <summary>numpy.linspace(start, stop, num) in float64 (<c>i * step + start</c>, the last value exactly <paramref name="stop"/>).</summary>
    internal static double[] NumpyLinspace(double start, double stop, int num)
    {
        var result = new double[num];
        if (num == 0) return result;
        if (num == 1) { result[0] = start; return result; }
        double step = (stop - start) / (num - 1);
        for (int i = 0; i < num; i++) result[i] = i * step + start;
        result[^1] = stop;
        return result;
    }

    /// <summary>numpy.arange(start, stop, step) for floats: length <c>ceil((stop - start) / step)</c>, values <c>start + i * delta</c>.</summary>
    internal static double[] NumpyArange(double start, double stop, double step)
    {
        long length = (long)Math.Ceiling((stop - start) / step);
        if (length <= 0) return [];
        if (length > SchedulerConfig.MaxTrainTimesteps + 1) throw new ArgumentOutOfRangeException(nameof(step), "too many timesteps");
        var result = new double[length];
        double delta = (start + step) - start;
        for (int i = 0; i < length; i++) result[i] = i == 0 ? start : start + i * delta;
        return result;
    }

    /// <summary>
    /// The inference timesteps of <paramref name="config"/>'s <c>timestep_spacing</c> for <paramref name="steps"/>
    /// steps over <paramref name="trainSteps"/> training steps, noisiest first, as diffusers' DDPM/DDIM compute them:
    /// linspace rounds <c>linspace(0, T-1, n)</c>; leading takes multiples of <c>T // n</c> plus <c>steps_offset</c>;
    /// trailing rounds <c>arange(T, 0, -T/n)</c> and subtracts 1. Not rounded for <paramref name="round"/> false
    /// (Euler's linspace keeps fractional timesteps).
    /// </summary>
    internal static double[] SpacedTimesteps(SchedulerConfig config, int steps, int trainSteps, bool round = true)
    {
        switch (config.TimestepSpacing)
        {
            case "linspace":
            {
                var t = NumpyLinspace(0, trainSteps - 1, steps);
                Array.Reverse(t);
                for (int i = 0; i < t.Length; i++) t[i] = round ? Math.Round(t[i]) : (float)t[i];
                return t;
            }
            case "leading":
            {
                int ratio = trainSteps / steps;
                var t = new double[steps];
                for (int i = 0; i < steps; i++) t[i] = (double)(steps - 1 - i) * ratio + config.StepsOffset;
                return t;
            }
            default:
            {
                var t = NumpyArange(trainSteps, 0, -((double)trainSteps / steps));
                for (int i = 0; i < t.Length; i++) t[i] = Math.Round(t[i]) - 1;
                return t;
            }
        }
    }

    /// <summary>numpy.interp(x, [0, 1, ..., n-1], table) in float64.</summary>
    internal static double InterpolateAtIndex(ReadOnlySpan<float> table, double x)
    {
        if (x <= 0) return table[0];
        if (x >= table.Length - 1) return table[^1];
        int j = (int)Math.Floor(x);
        double slope = (double)table[j + 1] - table[j];
        return slope * (x - j) + table[j];
    }

    /// <summary>Karras et al. (2022) sigmas: <c>(max^(1/7) + ramp * (min^(1/7) - max^(1/7)))^7</c> over <paramref name="steps"/> points.</summary>
    internal static double[] KarrasSigmas(double sigmaMin, double sigmaMax, int steps)
    {
        const double rho = 7.0;
        double minInv = Math.Pow(sigmaMin, 1 / rho), maxInv = Math.Pow(sigmaMax, 1 / rho);
        var ramp = NumpyLinspace(0, 1, steps);
        var result = new double[steps];
        for (int i = 0; i < steps; i++) result[i] = Math.Pow(maxInv + ramp[i] * (minInv - maxInv), rho);
        return result;
    }

    /// <summary>The fractional training timestep whose sigma is <paramref name="sigma"/>, by linear interpolation in log-sigma (diffusers' <c>_sigma_to_t</c>).</summary>
    internal static double SigmaToTimestep(double sigma, ReadOnlySpan<float> logSigmas)
    {
        double logSigma = Math.Log(Math.Max(sigma, 1e-10));
        int low = 0;
        for (int i = 0; i < logSigmas.Length; i++) if (logSigma - logSigmas[i] >= 0) low = i;
        low = Math.Min(low, logSigmas.Length - 2);
        double lo = logSigmas[low], hi = logSigmas[low + 1];
        double w = Math.Clamp((lo - logSigma) / (lo - hi), 0, 1);
        return (1 - w) * low + w * (low + 1);
    }

    /// <summary>
    /// The predicted clean sample x0 from a model output at alpha-bar <paramref name="alphaProd"/>:
    /// epsilon: <c>(x - sqrt(1-a) eps) / sqrt(a)</c>; sample: the output; v: <c>sqrt(a) x - sqrt(1-a) v</c>.
    /// </summary>
    internal static void PredictOriginal(string predictionType, float alphaProd, ReadOnlySpan<float> modelOutput, ReadOnlySpan<float> sample, Span<float> x0)
    {
        float sqrtA = MathF.Sqrt(alphaProd), sqrtB = MathF.Sqrt(1f - alphaProd);
        switch (predictionType)
        {
            case "epsilon":
                for (int i = 0; i < x0.Length; i++) x0[i] = (sample[i] - sqrtB * modelOutput[i]) / sqrtA;
                break;
            case "sample":
                modelOutput.CopyTo(x0);
                break;
            default:
                for (int i = 0; i < x0.Length; i++) x0[i] = sqrtA * sample[i] - sqrtB * modelOutput[i];
                break;
        }
    }

    /// <summary>The epsilon implied by a model output at alpha-bar <paramref name="alphaProd"/> (see <see cref="PredictOriginal"/>).</summary>
    internal static void PredictEpsilon(string predictionType, float alphaProd, ReadOnlySpan<float> modelOutput, ReadOnlySpan<float> sample, ReadOnlySpan<float> x0, Span<float> epsilon)
    {
        float sqrtA = MathF.Sqrt(alphaProd), sqrtB = MathF.Sqrt(1f - alphaProd);
        switch (predictionType)
        {
            case "epsilon":
                modelOutput.CopyTo(epsilon);
                break;
            case "sample":
                for (int i = 0; i < epsilon.Length; i++) epsilon[i] = (sample[i] - sqrtA * x0[i]) / sqrtB;
                break;
            default:
                for (int i = 0; i < epsilon.Length; i++) epsilon[i] = sqrtA * modelOutput[i] + sqrtB * sample[i];
                break;
        }
    }

    /// <summary>
    /// Imagen's dynamic thresholding, per sample of the batch: s = the <paramref name="ratio"/> quantile of |x0|
    /// (linear interpolation, as torch.quantile), clamped to [1, <paramref name="maxValue"/>]; x0 = clamp(x0, -s, s) / s.
    /// </summary>
    internal static void DynamicThreshold(Span<float> x0, int batch, double ratio, double maxValue)
    {
        int per = x0.Length / batch;
        var abs = new float[per];
        for (int b = 0; b < batch; b++)
        {
            var part = x0.Slice(b * per, per);
            for (int i = 0; i < per; i++) abs[i] = MathF.Abs(part[i]);
            Array.Sort(abs);
            double position = ratio * (per - 1);
            int lo = (int)Math.Floor(position);
            int hi = Math.Min(lo + 1, per - 1);
            float s = (float)(abs[lo] + (position - lo) * ((double)abs[hi] - abs[lo]));
            s = MathF.Min(MathF.Max(s, 1f), (float)maxValue); // torch.clamp(min=1, max=sample_max_value)
            for (int i = 0; i < per; i++) part[i] = Math.Clamp(part[i], -s, s) / s;
        }
    }
}
