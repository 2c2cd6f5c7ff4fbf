namespace Tessera.Training.Callbacks;

/// <summary>Whether a monitored metric improves by going down or up.</summary>
public enum MonitorMode
{
    /// <summary>Lower is better (losses).</summary>
    Min,
    /// <summary>Higher is better (accuracy).</summary>
    Max,
}
