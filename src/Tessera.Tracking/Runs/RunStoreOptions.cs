namespace Tessera.Tracking.Runs;

/// <summary>How a <see cref="RunStore"/> behaves.</summary>
public sealed record RunStoreOptions
{
    /// <summary>How often a running run's process records that it is alive. Default 10 s.</summary>
    public TimeSpan HeartbeatInterval { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// A running run from another machine whose heartbeat is older than this is marked
    /// <see cref="RunStatus.Killed"/> when the store opens. (A run from this machine is marked as soon as its process
    /// is gone.) Default 2 minutes.
    /// </summary>
    public TimeSpan StaleAfter { get; init; } = TimeSpan.FromMinutes(2);

    /// <summary>How long a write waits for another process's write to finish before failing. Default 60 s.</summary>
    public TimeSpan BusyTimeout { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>Metric points buffered in memory before a batched insert. Default 10,000.</summary>
    public int MetricBatchSize { get; init; } = 10_000;
}
