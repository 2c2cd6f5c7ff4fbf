using System.Text.Json;
using Tessera.Diffusion.Schedulers;
using Xunit.Sdk;
using SchedulerFactory = Tessera.Diffusion.Schedulers.Schedulers;

namespace Tessera.Diffusion.Tests.Schedulers;

/// <summary>
/// Every scheduler against reference_schedulers.py, an independent PyTorch (1.13, float32) implementation written from
/// the published algorithms with diffusers' conventions: training tables, timesteps and sigmas for each spacing, and
/// up to 10 (DPM: 20) consecutive steps on fixed random model outputs, the same noise fed to both sides.
/// </summary>
public sealed class SchedulerReferenceTests(SchedulerReferenceTests.Reference reference, ITestOutputHelper output) : IClassFixture<SchedulerReferenceTests.Reference>
{
    // Bounds, each relative to the largest magnitude of the step's tensor (at least 1): float32 resolves ~6e-8 of a
    // tensor's scale, and values that are differences of large terms (Euler at sigma ~15) carry errors of that scale.
    // Both sides start from betas that differ in the last bit (torch.linspace's vectorized float32 arithmetic depends
    // on the CPU's vector width, so diffusers' own tables do too), and the steps carry that forward:
    // - samples (prev, scaled input) to 2e-6: measured at most 1.0e-6 (DDPM, linspace), most cases below 5e-7;
    // - predicted x0 to 1e-5: x0 = (x - sqrt(1 - a) eps) / sqrt(a) magnifies x's rounding by 1 / sqrt(a), up to ~150
    //   near t = 999; measured at most 3.1e-6 (DDPM, fixed_small_log);
    // - tables (betas, alpha-bar, sigmas, timesteps) to 1e-6 per value, except zero-terminal-SNR betas and
    //   alpha-bar: the rescaling shifts sqrt(alpha-bar) to end at 0 and the betas are 1 - ab[i] / ab[i-1], which
    //   cancels and magnifies linspace's last-bit difference (measured 1.1e-6 absolute on betas, 1.1e-6 relative on
    //   alpha-bar ~5e-7 near the end), so they are held to 2e-6 absolute; from identical input betas the rescaling matches exactly
    //   (ddpm-rescaled-trained-betas, held to 1e-6 per value).
    const double SampleTolerance = 2e-6;
    const double X0Tolerance = 1e-5;

    public static readonly int[] Shape = [2, 3, 4, 5];

    public sealed record Case(string Name, string ClassName, Action<SchedulerConfig>? Configure = null, int Steps = 10, int RunSteps = 10,
        double Eta = 0, bool UseClippedModelOutput = false, double SChurn = 0)
    {
        public override string ToString() => Name;
    }

    const string Ddpm = "DDPMScheduler", Ddim = "DDIMScheduler", Euler = "EulerDiscreteScheduler", EulerA = "EulerAncestralDiscreteScheduler", Dpm = "DPMSolverMultistepScheduler";

    static readonly Case[] stepCases =
    [
        new("ddpm-leading", Ddpm),
        new("ddpm-linspace", Ddpm, c => c.TimestepSpacing = "linspace"),
        new("ddpm-trailing", Ddpm, c => c.TimestepSpacing = "trailing"),
        new("ddpm-vpred-scaled", Ddpm, c => { c.PredictionType = "v_prediction"; c.BetaSchedule = "scaled_linear"; c.BetaStart = 0.00085; c.BetaEnd = 0.012; }),
        new("ddpm-sample-cosine", Ddpm, c => { c.PredictionType = "sample"; c.BetaSchedule = "squaredcos_cap_v2"; c.ClipSample = false; }),
        new("ddpm-fixed-large", Ddpm, c => c.VarianceType = "fixed_large"),
        new("ddpm-small-log", Ddpm, c => c.VarianceType = "fixed_small_log"),
        new("ddpm-threshold", Ddpm, c => { c.Thresholding = true; c.SampleMaxValue = 2.5; c.DynamicThresholdingRatio = 0.9; }),
        new("ddpm-zero-snr", Ddpm, c => { c.RescaleBetasZeroSnr = true; c.PredictionType = "v_prediction"; c.TimestepSpacing = "trailing"; }),
        new("ddpm-rescaled-trained-betas", Ddpm, c =>
        {
            c.TrainedBetas = [.. Enumerable.Range(0, 1000).Select(i => (double)(float)(0.0001 + i * (0.02 - 0.0001) / 999))];
            c.RescaleBetasZeroSnr = true;
            c.PredictionType = "v_prediction";
            c.TimestepSpacing = "trailing";
        }),
        new("ddpm-trained-betas", Ddpm, c => { c.NumTrainTimesteps = 100; c.TrainedBetas = [.. Enumerable.Range(0, 100).Select(i => 0.001 + 0.0004 * i)]; }),
        new("ddim-leading", Ddim),
        new("ddim-linspace-quirk", Ddim, c => c.TimestepSpacing = "linspace"),
        new("ddim-trailing-eta", Ddim, c => c.TimestepSpacing = "trailing", Eta: 0.7),
        new("ddim-offset-no-alpha-one", Ddim, c => { c.SetAlphaToOne = false; c.StepsOffset = 1; }),
        new("ddim-vpred-clipped-output", Ddim, c => c.PredictionType = "v_prediction", UseClippedModelOutput: true),
        new("ddim-sample-threshold", Ddim, c => { c.PredictionType = "sample"; c.Thresholding = true; c.SampleMaxValue = 1.5; }),
        // The DDPM training config of `tessera train diffusion` swapped to DDIM (cosine betas, clip_sample kept, leading
        // spacing, set_alpha_to_one): all 50 steps, from the large 1/sqrt(alpha-bar) of t = 980 down to the final alpha 1.
        new("ddim-cosine-clip-50-from-training", Ddim, c => c.BetaSchedule = "squaredcos_cap_v2", Steps: 50, RunSteps: 50),
        new("ddim-eta1-scaled", Ddim, c => { c.BetaSchedule = "scaled_linear"; c.BetaStart = 0.00085; c.BetaEnd = 0.012; c.ClipSample = false; }, Eta: 1.0),
        new("euler-linspace", Euler),
        new("euler-leading", Euler, c => { c.TimestepSpacing = "leading"; c.StepsOffset = 1; }),
        new("euler-trailing", Euler, c => c.TimestepSpacing = "trailing"),
        new("euler-karras", Euler, c => { c.UseKarrasSigmas = true; c.BetaSchedule = "scaled_linear"; c.BetaStart = 0.00085; c.BetaEnd = 0.012; }),
        new("euler-vpred-continuous", Euler, c => { c.PredictionType = "v_prediction"; c.TimestepType = "continuous"; }),
        new("euler-churn", Euler, SChurn: 1.0),
        new("euler-sigma-min", Euler, c => c.FinalSigmasType = "sigma_min"),
        new("euler-zero-snr", Euler, c => { c.RescaleBetasZeroSnr = true; c.PredictionType = "v_prediction"; c.TimestepSpacing = "trailing"; }),
        new("euler-sample", Euler, c => c.PredictionType = "sample"),
        new("euler-a-linspace", EulerA),
        new("euler-a-leading", EulerA, c => { c.TimestepSpacing = "leading"; c.StepsOffset = 1; }),
        new("euler-a-trailing-vpred", EulerA, c => { c.TimestepSpacing = "trailing"; c.PredictionType = "v_prediction"; }),
        new("euler-a-scaled", EulerA, c => { c.BetaSchedule = "scaled_linear"; c.BetaStart = 0.00085; c.BetaEnd = 0.012; }),
        new("dpm-order2-midpoint", Dpm),
        new("dpm-order1", Dpm, c => c.SolverOrder = 1),
        new("dpm-heun", Dpm, c => c.SolverType = "heun"),
        new("dpm-20-steps", Dpm, Steps: 20, RunSteps: 20),
        new("dpm-sde-midpoint", Dpm, c => c.AlgorithmType = "sde-dpmsolver++"),
        new("dpm-sde-heun", Dpm, c => { c.AlgorithmType = "sde-dpmsolver++"; c.SolverType = "heun"; }),
        new("dpm-karras", Dpm, c => { c.UseKarrasSigmas = true; c.BetaSchedule = "scaled_linear"; c.BetaStart = 0.00085; c.BetaEnd = 0.012; }, Steps: 25),
        new("dpm-leading", Dpm, c => { c.TimestepSpacing = "leading"; c.StepsOffset = 1; }),
        new("dpm-trailing", Dpm, c => c.TimestepSpacing = "trailing"),
        new("dpm-lambda-clipped-cosine", Dpm, c => { c.BetaSchedule = "squaredcos_cap_v2"; c.LambdaMinClipped = -5.1; }),
        new("dpm-vpred-sigma-min", Dpm, c => { c.PredictionType = "v_prediction"; c.FinalSigmasType = "sigma_min"; c.LowerOrderFinal = false; }),
        new("dpm-sample-threshold", Dpm, c => { c.PredictionType = "sample"; c.Thresholding = true; c.SampleMaxValue = 1.5; }),
    ];

    // Timesteps and sigmas only, for each class, spacing and a few step counts (1 and odd counts probe rounding).
    static readonly Case[] spacingCases =
    [
        .. from cls in new[] { Ddpm, Ddim, Euler, EulerA, Dpm }
           from spacing in new[] { "linspace", "leading", "trailing" }
           from n in new[] { 1, 3, 7, 50 }
           select new Case($"{cls}-{spacing}-{n}", cls, c => { c.TimestepSpacing = spacing; c.StepsOffset = spacing == "leading" ? 1 : 0; }, Steps: n, RunSteps: 0),
        .. from cls in new[] { Euler, Dpm }
           from n in new[] { 1, 3, 7, 50 }
           select new Case($"{cls}-karras-{n}", cls, c => c.UseKarrasSigmas = true, Steps: n, RunSteps: 0),
    ];

    public static TheoryData<string> StepCases => [.. stepCases.Select(c => c.Name)];
    public static TheoryData<string> SpacingCases => [.. spacingCases.Select(c => c.Name)];

    [Theory]
    [MemberData(nameof(StepCases))]
    public void Steps_match_the_pytorch_reference(string name) => Check(name);

    [Theory]
    [MemberData(nameof(SpacingCases))]
    public void Timesteps_and_sigmas_match_the_pytorch_reference(string name) => Check(name);

    void Check(string name)
    {
        Requires.Python("torch", "numpy");
        var run = reference.Results.Value;
        var ours = run.Ours[name];
        var theirs = run.Expected[name];
        int per = Shape.Aggregate(1, (a, b) => a * b);
        var errors = new List<string>();
        void Compare(string key, double tolerance, int block)
        {
            if (!theirs.ContainsKey(key)) return;
            Assert.True(ours.ContainsKey(key), $"{name}: no {key} on our side");
            errors.Add($"{key} {MaxError(theirs[key], ours[key], block):E1}");
            AssertClose(theirs[key], ours[key], tolerance, $"{name} {key}", block);
        }
        Compare("timesteps", 1e-6, -1);
        bool zeroSnr = name.Contains("zero-snr");
        Compare("betas", zeroSnr ? 2e-6 : 1e-6, zeroSnr ? 0 : -1);
        Compare("alphas_cumprod", zeroSnr ? 2e-6 : 1e-6, zeroSnr ? 0 : -1);
        Compare("sigmas", 1e-6, -1);
        Compare("init_noise_sigma", 1e-6, -1);
        Compare("scaled_input", SampleTolerance, per);
        Compare("prev", SampleTolerance, per);
        Compare("x0", X0Tolerance, per);
        output.WriteLine($"{name}: {ours["prev"].Length / per} steps; max error (relative to each step's largest value, tables per value): {string.Join(", ", errors)}");
    }

    // Each block of `block` values (one step's tensor; the whole array when 0) is compared relative to its largest
    // magnitude (at least 1): float32 resolves ~6e-8 of a tensor's scale, and values that are the difference of
    // large terms (Euler at sigma ~15) carry errors of that scale, not of their own size.
    static void AssertClose(float[] expected, float[] actual, double tolerance, string what, int block = 0)
    {
        Assert.True(expected.Length == actual.Length, $"{what}: {actual.Length} values, reference {expected.Length}");
        bool relative = block < 0;
        if (block <= 0) block = Math.Max(1, expected.Length);
        for (int start = 0; start < expected.Length; start += block)
        {
            int end = Math.Min(expected.Length, start + block);
            double scale = 1;
            for (int i = start; i < end; i++) if (float.IsFinite(expected[i])) scale = Math.Max(scale, Math.Abs(expected[i]));
            for (int i = start; i < end; i++)
            {
                if (relative) scale = Math.Max(Math.Abs(expected[i]), 1e-30);
                double e = expected[i], a = actual[i];
                if (e.Equals(a)) continue;
                double err = Math.Abs(a - e);
                if (!(err <= tolerance * scale))
                    throw new XunitException($"{what}[{i}]: {a} vs reference {e} (|diff| {err:E2}, {err / scale:E2} of the block's scale {scale:G4})");
            }
        }
    }

    static double MaxError(float[] expected, float[] actual, int block)
    {
        bool relative = block < 0;
        if (block <= 0) block = Math.Max(1, expected.Length);
        double max = 0;
        for (int start = 0; start < expected.Length; start += block)
        {
            int end = Math.Min(expected.Length, start + block);
            double scale = 1;
            for (int i = start; i < end; i++) if (float.IsFinite(expected[i])) scale = Math.Max(scale, Math.Abs(expected[i]));
            for (int i = start; i < Math.Min(end, actual.Length); i++)
                if (!expected[i].Equals(actual[i]))
                    max = Math.Max(max, Math.Abs(actual[i] - (double)expected[i]) / (relative ? Math.Max(Math.Abs(expected[i]), 1e-30) : scale));
        }
        return max;
    }

    /// <summary>Runs every case in C# and, once, in the Python reference.</summary>
    public sealed class Reference : IDisposable
    {
        readonly TempDirectory dir = new();

        public Reference() => Results = new Lazy<RunResults>(Run);

        public Lazy<RunResults> Results { get; }

        public void Dispose() => dir.Dispose();

        RunResults Run()
        {
            int per = Shape.Aggregate(1, (a, b) => a * b);
            var manifest = new List<object>();
            var ours = new Dictionary<string, Dictionary<string, float[]>>();
            foreach (var c in stepCases.Concat(spacingCases))
            {
                var config = SchedulerConfig.ForClass(c.ClassName);
                c.Configure?.Invoke(config);
                string configPath = Path.Combine(dir.Path, c.Name + ".json");
                config.Save(configPath);
                var scheduler = (NoiseScheduler)SchedulerFactory.Create(SchedulerConfig.Load(configPath));
                scheduler.SetTimesteps(c.Steps);
                if (scheduler is DdimScheduler ddim) { ddim.Eta = c.Eta; ddim.UseClippedModelOutput = c.UseClippedModelOutput; }
                if (scheduler is EulerDiscreteScheduler euler) euler.SChurn = c.SChurn;

                int run = Math.Min(c.RunSteps, scheduler.Timesteps.Count);
                var modelOutputs = Gaussian(1, run * per);
                var sample = Gaussian(2, per);
                foreach (ref float v in sample.AsSpan()) v *= (float)scheduler.InitNoiseSigma;
                var noise = Gaussian(3, (run + 1) * per);
                WriteCase(c, configPath, modelOutputs, sample, noise, manifest);

                var result = new Dictionary<string, float[]>
                {
                    ["timesteps"] = [.. scheduler.Timesteps.Select(t => (float)t)],
                    ["betas"] = [.. scheduler.Betas],
                    ["alphas_cumprod"] = [.. scheduler.AlphasCumprod],
                    ["init_noise_sigma"] = [(float)scheduler.InitNoiseSigma],
                };
                if (scheduler is SigmaScheduler sigmas) result["sigmas"] = [.. sigmas.Sigmas];
                var sources = Enumerable.Range(0, Shape[0]).Select(b => (INoiseSource)new ReplayNoise(noise, b, Shape[0], per / Shape[0])).ToArray();
                var prev = new List<float>();
                var x0 = new List<float>();
                var scaled = new List<float>();
                var x = sample;
                for (int i = 0; i < run; i++)
                {
                    double t = scheduler.Timesteps[i];
                    var input = x.ToArray();
                    scheduler.ScaleModelInput(input, t);
                    scaled.AddRange(input);
                    var step = scheduler.Step(modelOutputs.AsSpan(i * per, per), t, x, sources);
                    x = step.PrevSample;
                    prev.AddRange(step.PrevSample);
                    x0.AddRange(step.PredOriginalSample!);
                }
                result["prev"] = [.. prev];
                result["x0"] = [.. x0];
                result["scaled_input"] = [.. scaled];
                ours[c.Name] = result;
            }

            string manifestPath = Path.Combine(dir.Path, "manifest.json");
            File.WriteAllText(manifestPath, JsonSerializer.Serialize(new { cases = manifest }));
            string outDir = Path.Combine(dir.Path, "out");
            Directory.CreateDirectory(outDir);
            string script = File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "reference_schedulers.py"));
            ReferencePython.Run(script, manifestPath, outDir);

            var expected = new Dictionary<string, Dictionary<string, float[]>>();
            foreach (var c in stepCases.Concat(spacingCases))
            {
                var values = new Dictionary<string, float[]>();
                foreach (string file in Directory.GetFiles(outDir, c.Name + ".*.f4"))
                {
                    string key = Path.GetFileName(file)[(c.Name.Length + 1)..^3];
                    values[key] = ReferencePython.ReadFloats(file);
                }
                if (!values.ContainsKey("scaled_input")) ours[c.Name].Remove("scaled_input");
                expected[c.Name] = values;
            }
            return new RunResults(ours, expected);
        }

        void WriteCase(Case c, string configPath, float[] modelOutputs, float[] sample, float[] noise, List<object> manifest)
        {
            string Write(string what, float[] values)
            {
                string path = Path.Combine(dir.Path, $"{c.Name}.{what}.in.f4");
                ReferencePython.WriteFloats(path, values);
                return path;
            }
            manifest.Add(new Dictionary<string, object>
            {
                ["name"] = c.Name,
                ["config"] = configPath,
                ["shape"] = Shape,
                ["steps"] = c.Steps,
                ["model_outputs"] = Write("model_outputs", modelOutputs),
                ["sample"] = Write("sample", sample),
                ["noise"] = Write("noise", noise),
                ["eta"] = c.Eta,
                ["use_clipped_model_output"] = c.UseClippedModelOutput,
                ["s_churn"] = c.SChurn,
            });
        }

        static float[] Gaussian(ulong seed, int count)
        {
            var values = new float[count];
            new GaussianNoise(seed).NextGaussian(values);
            return values;
        }
    }

    public sealed record RunResults(Dictionary<string, Dictionary<string, float[]>> Ours, Dictionary<string, Dictionary<string, float[]>> Expected);

    /// <summary>Sample <c>b</c>'s part of a recorded noise stream: draw k gives stream[k, b, ...], as the reference's draw k.</summary>
    sealed class ReplayNoise(float[] stream, int sample, int batch, int perSample) : INoiseSource
    {
        int draws;

        public void NextGaussian(Span<float> destination)
        {
            Assert.Equal(perSample, destination.Length);
            stream.AsSpan((draws * batch + sample) * perSample, perSample).CopyTo(destination);
            draws++;
        }
    }
}
