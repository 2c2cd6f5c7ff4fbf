namespace Tessera.Diffusion.Schedulers;

/// <summary>
/// Creates schedulers by diffusers class name or CLI short name (<c>ddpm</c>, <c>ddim</c>, <c>euler</c>,
/// <c>euler-a</c>, <c>dpm++</c>), swaps one for another like diffusers' <c>from_config</c>, and loads and saves
/// scheduler folders. User schedulers join with <see cref="Register"/>, the way the built-ins do.
/// </summary>
public static partial class Schedulers
{
    sealed record Entry(string ClassName, string ShortName, Func<SchedulerConfig, IDiffusionScheduler> Create,
        HashSet<string> Keys, Action<SchedulerConfig> Defaults);

    static readonly string[] common =
        ["num_train_timesteps", "beta_start", "beta_end", "beta_schedule", "trained_betas", "prediction_type", "timestep_spacing", "steps_offset", "rescale_betas_zero_snr"];
    static readonly string[] clipping = ["clip_sample", "clip_sample_range", "thresholding", "dynamic_thresholding_ratio", "sample_max_value"];
    static readonly object gate = new();
    static readonly List<Entry> entries = [];

    static Schedulers()
    {
        Register(DdpmScheduler.DiffusersClassName, "ddpm", c => new DdpmScheduler(c), [.. common, .. clipping, "variance_type"],
            c => { c.TimestepSpacing = "leading"; c.ClipSample = true; c.VarianceType = "fixed_small"; });
        Register(DdimScheduler.DiffusersClassName, "ddim", c => new DdimScheduler(c), [.. common, .. clipping, "set_alpha_to_one"],
            c => { c.TimestepSpacing = "leading"; c.ClipSample = true; c.SetAlphaToOne = true; });
        Register(EulerDiscreteScheduler.DiffusersClassName, "euler", c => new EulerDiscreteScheduler(c),
            [.. common, "interpolation_type", "use_karras_sigmas", "use_exponential_sigmas", "use_beta_sigmas", "sigma_min", "sigma_max", "timestep_type", "final_sigmas_type"],
            c => c.TimestepSpacing = "linspace");
        Register(EulerAncestralDiscreteScheduler.DiffusersClassName, "euler-a", c => new EulerAncestralDiscreteScheduler(c), common,
            c => c.TimestepSpacing = "linspace");
        Register(DpmSolverMultistepScheduler.DiffusersClassName, "dpm++", c => new DpmSolverMultistepScheduler(c),
            [.. common, "solver_order", "thresholding", "dynamic_thresholding_ratio", "sample_max_value", "algorithm_type", "solver_type", "lower_order_final",
             "euler_at_final", "use_karras_sigmas", "use_exponential_sigmas", "use_beta_sigmas", "use_lu_lambdas", "use_flow_sigmas", "final_sigmas_type",
             "lambda_min_clipped", "variance_type"],
            c => { c.TimestepSpacing = "linspace"; c.VarianceType = null; });
    }

    /// <summary>
    /// Adds a scheduler class: its diffusers <paramref name="className"/>, a <paramref name="shortName"/> for the CLI,
    /// a factory, the config fields the class owns (written to its <c>scheduler_config.json</c>) and a function that
    /// sets its defaults on a fresh config. A later registration of the same names replaces the earlier one.
    /// </summary>
    public static void Register(string className, string shortName, Func<SchedulerConfig, IDiffusionScheduler> create,
        IEnumerable<string> configKeys, Action<SchedulerConfig>? defaults = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(className);
        ArgumentException.ThrowIfNullOrEmpty(shortName);
        ArgumentNullException.ThrowIfNull(create);
        lock (gate)
        {
            entries.RemoveAll(e => e.ClassName == className || e.ShortName == shortName);
            entries.Add(new Entry(className, shortName, create, new HashSet<string>(configKeys, StringComparer.Ordinal), defaults ?? (_ => { })));
        }
    }

    /// <summary>The registered diffusers class names.</summary>
    public static IReadOnlyList<string> ClassNames { get { lock (gate) return entries.Select(e => e.ClassName).ToArray(); } }

    /// <summary>The registered short names (<c>ddpm</c>, <c>ddim</c>, ...).</summary>
    public static IReadOnlyList<string> ShortNames { get { lock (gate) return entries.Select(e => e.ShortName).ToArray(); } }

    /// <summary>The scheduler <paramref name="config"/>'s <c>_class_name</c> names.</summary>
    /// <exception cref="Tessera.Formats.TesseraFormatException">The class is not registered, or a field is out of range or unsupported.</exception>
    public static IDiffusionScheduler Create(SchedulerConfig config)
    {
        ArgumentNullException.ThrowIfNull(config);
        var entry = Find(config.ClassName) ?? throw new Tessera.Formats.TesseraFormatException(config.SourcePath,
            $"{SchedulerConfig.FileName}: unknown scheduler class '{config.ClassName}'; expected one of {string.Join(", ", ClassNames)}");
        return entry.Create(config);
    }

    /// <summary>
    /// A scheduler of class <paramref name="shortOrClassName"/> (<c>ddim</c> or <c>DDIMScheduler</c>, any case).
    /// With <paramref name="from"/>, like diffusers' <c>from_config</c>: every field <paramref name="from"/> has
    /// (its class's fields, fields it read, unknown keys) is kept, the others take the new class's defaults.
    /// </summary>
    /// <exception cref="ArgumentException">The name is not registered.</exception>
    /// <exception cref="Tessera.Formats.TesseraFormatException">A kept field is unsupported by the new class.</exception>
    public static IDiffusionScheduler Create(string shortOrClassName, SchedulerConfig? from = null) =>
        Create(ConfigFor(shortOrClassName, from));

    /// <summary>The config <see cref="Create(string, SchedulerConfig?)"/> would use: the new class's defaults, then the fields <paramref name="from"/> has.</summary>
    /// <exception cref="ArgumentException">The name is not registered.</exception>
    public static SchedulerConfig ConfigFor(string shortOrClassName, SchedulerConfig? from = null)
    {
        var entry = Find(shortOrClassName) ?? throw new ArgumentException(
            $"unknown scheduler '{shortOrClassName}'; expected one of {string.Join(", ", ShortNames)} or {string.Join(", ", ClassNames)}", nameof(shortOrClassName));
        var config = SchedulerConfig.ForClass(entry.ClassName);
        if (from is not null) config.TakeSharedFieldsFrom(from);
        return config;
    }

    /// <summary>Loads <c>scheduler_config.json</c> from <paramref name="folder"/> and creates the scheduler it names.</summary>
    /// <exception cref="Tessera.Formats.TesseraFormatException">The file is missing or invalid, or names an unknown class.</exception>
    public static IDiffusionScheduler FromFolder(string folder) =>
        Create(SchedulerConfig.Load(Path.Combine(folder, SchedulerConfig.FileName)));

    /// <summary>Writes <paramref name="scheduler"/>'s config to <c>scheduler_config.json</c> in <paramref name="folder"/> (atomically; the folder is created).</summary>
    public static void Save(IDiffusionScheduler scheduler, string folder)
    {
        ArgumentNullException.ThrowIfNull(scheduler);
        scheduler.Config.Save(Path.Combine(folder, SchedulerConfig.FileName));
    }

    internal static IReadOnlySet<string> ClassKeys(string className) => Find(className)?.Keys ?? (IReadOnlySet<string>)new HashSet<string>();

    internal static void ApplyClassDefaults(SchedulerConfig config) => Find(config.ClassName)?.Defaults(config);

    static Entry? Find(string name)
    {
        lock (gate)
            return entries.FirstOrDefault(e => string.Equals(e.ClassName, name, StringComparison.OrdinalIgnoreCase)
                || string.Equals(e.ShortName, name, StringComparison.OrdinalIgnoreCase));
    }
}
