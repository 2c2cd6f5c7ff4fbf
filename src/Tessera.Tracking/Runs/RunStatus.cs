namespace Tessera.Tracking.Runs;

/// <summary>The life-cycle state of a run (the same four states as MLflow's <c>RunStatus</c>, minus SCHEDULED).</summary>
public enum RunStatus
{
    /// <summary>Started and not ended; its process keeps a heartbeat.</summary>
    Running,
    /// <summary>Ended normally.</summary>
    Finished,
    /// <summary>Ended with an error.</summary>
    Failed,
    /// <summary>Its process went away without ending it (SIGKILL, power loss): found by the stale-heartbeat rule.</summary>
    Killed,
}
