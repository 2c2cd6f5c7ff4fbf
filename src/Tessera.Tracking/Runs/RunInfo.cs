namespace Tessera.Tracking.Runs;

/// <summary>One run as stored: identity, state, timing and how it was started.</summary>
/// <param name="Id">32 lowercase hex digits (the form MLflow uses).</param>
/// <param name="ExperimentId">The experiment the run belongs to.</param>
/// <param name="Name">A human-readable name (not unique).</param>
/// <param name="Status">Its state; a run whose process died shows <see cref="RunStatus.Killed"/>.</param>
/// <param name="StartTime">When it started.</param>
/// <param name="EndTime">When it ended; null while running.</param>
/// <param name="CommandLine">The command line that started it, for display (empty when started from code).</param>
/// <param name="Arguments">The exact argument list after the program name, for <c>tessera runs reproduce</c>.</param>
/// <param name="ParentId">The run that started this one, if any.</param>
/// <param name="Host">The machine it ran on.</param>
/// <param name="ProcessId">Its process id on <paramref name="Host"/>.</param>
/// <param name="LastHeartbeat">The last time its process reported being alive.</param>
public sealed record RunInfo(
    string Id,
    long ExperimentId,
    string Name,
    RunStatus Status,
    DateTimeOffset StartTime,
    DateTimeOffset? EndTime,
    string CommandLine,
    IReadOnlyList<string> Arguments,
    string? ParentId,
    string Host,
    int ProcessId,
    DateTimeOffset LastHeartbeat)
{
    /// <summary>End minus start; up to now for a running run.</summary>
    public TimeSpan Duration => (EndTime ?? DateTimeOffset.UtcNow) - StartTime;
}
