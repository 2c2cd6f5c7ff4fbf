namespace Tessera.Tracking.Runs;

/// <summary>What to record when a run starts.</summary>
public sealed record RunStartOptions
{
    /// <summary>The experiment (created if new). Default <c>Default</c>, as MLflow's.</summary>
    public string Experiment { get; init; } = "Default";

    /// <summary>A human-readable name; default <c>run-{UTC time}</c>.</summary>
    public string? Name { get; init; }

    /// <summary>The command line, for display.</summary>
    public string? CommandLine { get; init; }

    /// <summary>The argument list (after the program name) that <c>tessera runs reproduce</c> re-runs.</summary>
    public IReadOnlyList<string>? Arguments { get; init; }

    /// <summary>The run that started this one.</summary>
    public string? ParentId { get; init; }

    /// <summary>Tags to set at start.</summary>
    public IReadOnlyDictionary<string, string>? Tags { get; init; }
}
