namespace Tessera.Dashboard;

/// <summary>Settings of a <see cref="DashboardServer"/> (what <c>tessera ui</c>'s options set).</summary>
public sealed record DashboardOptions
{
    /// <summary>Address to listen on: 127.0.0.1 (this machine only) unless told otherwise.</summary>
    public string Host { get; init; } = "127.0.0.1";

    /// <summary>Port; 0 picks a free one (see <see cref="DashboardServer.Address"/>).</summary>
    public int Port { get; init; } = 5000;

    /// <summary>How often the page polls a running run (and a runs table holding one) for new metrics and status.</summary>
    public TimeSpan RefreshInterval { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>Most points per metric the run page draws; longer histories are thinned evenly (the last point is always kept).</summary>
    public int MaxChartPoints { get; init; } = 2000;

    /// <summary>Throws <see cref="ArgumentException"/> naming the first setting that is out of range.</summary>
    public void Validate()
    {
        if (Port is < 0 or > 65535) throw new ArgumentException($"port must be 0..65535 (got {Port})");
        if (RefreshInterval <= TimeSpan.Zero) throw new ArgumentException($"refresh interval must be positive (got {RefreshInterval})");
        if (MaxChartPoints < 2) throw new ArgumentException($"max chart points must be at least 2 (got {MaxChartPoints})");
    }
}
