using System.Text.Json.Nodes;

namespace Tessera.Diffusion.Schedulers;

/// <summary>
/// Diffusers' <c>scheduler_config.json</c>: typed fields with diffusers' names and defaults, plus every other key
/// kept as read (real configs carry other schedulers' keys), <c>_class_name</c> and <c>_diffusers_version</c>.
/// A new instance holds <c>DDPMScheduler</c>'s defaults; <see cref="ForClass"/> gives another class's defaults
/// (they differ: <c>timestep_spacing</c> is <c>leading</c> for DDPM/DDIM and <c>linspace</c> for Euler and
/// DPM-Solver, <c>variance_type</c> is <c>fixed_small</c> for DDPM and null for DPM-Solver). Fields a class does not
/// use are kept and written back (diffusers keeps them too, for swapping to a class that does).
/// </summary>
public sealed partial class SchedulerConfig
{
    /// <summary>The scheduler class name (<c>_class_name</c>), e.g. <c>DDIMScheduler</c>.</summary>
    public string ClassName { get; set; } = "DDPMScheduler";

    /// <summary>The diffusers version that wrote the file (<c>_diffusers_version</c>); null when absent.</summary>
    public string? DiffusersVersion { get; set; }

    /// <summary>Every key of the file that has no typed property here, kept for writing back.</summary>
    public JsonObject Extra { get; private set; } = new();

    /// <summary>The file this config was loaded from (named in errors); null when built in code or parsed from text.</summary>
    public string? SourcePath { get; set; }

    /// <summary><c>num_train_timesteps</c>: training diffusion steps (default 1000; at most <see cref="MaxTrainTimesteps"/>).</summary>
    public int NumTrainTimesteps { get; set; } = 1000;

    /// <summary><c>beta_start</c>: the first beta (default 0.0001).</summary>
    public double BetaStart { get; set; } = 0.0001;

    /// <summary><c>beta_end</c>: the last beta (default 0.02).</summary>
    public double BetaEnd { get; set; } = 0.02;

    /// <summary><c>beta_schedule</c>: <c>linear</c> (default), <c>scaled_linear</c> or <c>squaredcos_cap_v2</c>.</summary>
    public string BetaSchedule { get; set; } = "linear";

    /// <summary><c>trained_betas</c>: explicit betas (one per training timestep) that replace <see cref="BetaSchedule"/>; null by default.</summary>
    public double[]? TrainedBetas { get; set; }

    /// <summary><c>prediction_type</c>: what the model predicts, <c>epsilon</c> (default), <c>sample</c> or <c>v_prediction</c>.</summary>
    public string PredictionType { get; set; } = "epsilon";

    /// <summary><c>timestep_spacing</c>: <c>linspace</c>, <c>leading</c> (default for DDPM/DDIM) or <c>trailing</c>.</summary>
    public string TimestepSpacing { get; set; } = "leading";

    /// <summary><c>steps_offset</c>: added to every inference timestep with <c>leading</c> spacing (default 0).</summary>
    public int StepsOffset { get; set; }

    /// <summary><c>clip_sample</c>: clip the predicted x0 to ±<see cref="ClipSampleRange"/> (DDPM/DDIM; default true).</summary>
    public bool ClipSample { get; set; } = true;

    /// <summary><c>clip_sample_range</c>: the clipping bound (default 1).</summary>
    public double ClipSampleRange { get; set; } = 1.0;

    /// <summary><c>thresholding</c>: Imagen's dynamic thresholding of the predicted x0 (default false).</summary>
    public bool Thresholding { get; set; }

    /// <summary><c>dynamic_thresholding_ratio</c>: the quantile of |x0| used as threshold (default 0.995).</summary>
    public double DynamicThresholdingRatio { get; set; } = 0.995;

    /// <summary><c>sample_max_value</c>: the largest threshold dynamic thresholding may use (default 1).</summary>
    public double SampleMaxValue { get; set; } = 1.0;

    /// <summary><c>set_alpha_to_one</c>: DDIM's alpha-bar before the first timestep is 1 (true, default) or alpha-bar[0].</summary>
    public bool SetAlphaToOne { get; set; } = true;

    /// <summary><c>variance_type</c>: DDPM's <c>fixed_small</c> (default), <c>fixed_small_log</c>, <c>fixed_large</c>, <c>fixed_large_log</c>, <c>learned</c>, <c>learned_range</c>; null for DPM-Solver.</summary>
    public string? VarianceType { get; set; } = "fixed_small";

    /// <summary><c>rescale_betas_zero_snr</c>: rescale betas to zero terminal SNR (default false).</summary>
    public bool RescaleBetasZeroSnr { get; set; }

    /// <summary><c>interpolation_type</c>: Euler's sigma interpolation, <c>linear</c> (default) or <c>log_linear</c>.</summary>
    public string InterpolationType { get; set; } = "linear";

    /// <summary><c>use_karras_sigmas</c>: Karras et al. (rho = 7) sigma spacing for Euler and DPM-Solver (default false).</summary>
    public bool UseKarrasSigmas { get; set; }

    /// <summary><c>use_exponential_sigmas</c>: not supported here; true is an error.</summary>
    public bool UseExponentialSigmas { get; set; }

    /// <summary><c>use_beta_sigmas</c>: not supported here; true is an error.</summary>
    public bool UseBetaSigmas { get; set; }

    /// <summary><c>use_lu_lambdas</c>: not supported here; true is an error.</summary>
    public bool UseLuLambdas { get; set; }

    /// <summary><c>use_flow_sigmas</c>: not supported here; true is an error.</summary>
    public bool UseFlowSigmas { get; set; }

    /// <summary><c>sigma_min</c>: the smallest Karras sigma (null: the schedule's own).</summary>
    public double? SigmaMin { get; set; }

    /// <summary><c>sigma_max</c>: the largest Karras sigma (null: the schedule's own).</summary>
    public double? SigmaMax { get; set; }

    /// <summary><c>timestep_type</c>: Euler's <c>discrete</c> (default) or <c>continuous</c> (with v-prediction: t = sigma.log() / 4).</summary>
    public string TimestepType { get; set; } = "discrete";

    /// <summary><c>final_sigmas_type</c>: the sigma after the last step, <c>zero</c> (default) or <c>sigma_min</c>.</summary>
    public string FinalSigmasType { get; set; } = "zero";

    /// <summary><c>solver_order</c>: DPM-Solver's order, 1 or 2 (default 2; diffusers also has 3, not supported here).</summary>
    public int SolverOrder { get; set; } = 2;

    /// <summary><c>algorithm_type</c>: DPM-Solver's <c>dpmsolver++</c> (default) or <c>sde-dpmsolver++</c>.</summary>
    public string AlgorithmType { get; set; } = "dpmsolver++";

    /// <summary><c>solver_type</c>: DPM-Solver's second-order rule, <c>midpoint</c> (default) or <c>heun</c>.</summary>
    public string SolverType { get; set; } = "midpoint";

    /// <summary><c>lower_order_final</c>: first-order steps at the end when there are fewer than 15 steps (default true).</summary>
    public bool LowerOrderFinal { get; set; } = true;

    /// <summary><c>euler_at_final</c>: a first-order (Euler) last step (default false).</summary>
    public bool EulerAtFinal { get; set; }

    /// <summary><c>lambda_min_clipped</c>: DPM-Solver's lower bound on log-SNR lambda (default -Infinity: no clipping).</summary>
    public double LambdaMinClipped { get; set; } = double.NegativeInfinity;

    /// <summary>The largest <c>num_train_timesteps</c> accepted (bounds what a hostile config can make us allocate).</summary>
    public const int MaxTrainTimesteps = 1_000_000;

    /// <summary>
    /// A config with the defaults of diffusers' <paramref name="className"/> (<c>DDPMScheduler</c>,
    /// <c>DDIMScheduler</c>, <c>EulerDiscreteScheduler</c>, <c>EulerAncestralDiscreteScheduler</c>,
    /// <c>DPMSolverMultistepScheduler</c>, or a registered class); an unknown class gets DDPM's defaults.
    /// </summary>
    public static SchedulerConfig ForClass(string className)
    {
        var config = new SchedulerConfig { ClassName = className };
        Schedulers.ApplyClassDefaults(config);
        return config;
    }

    /// <summary>A deep copy (Extra included).</summary>
    public SchedulerConfig Clone()
    {
        var copy = (SchedulerConfig)MemberwiseClone();
        copy.present = new HashSet<string>(present);
        copy.TrainedBetas = TrainedBetas?.ToArray();
        copy.Extra = (JsonObject)Extra.DeepClone();
        return copy;
    }
}
