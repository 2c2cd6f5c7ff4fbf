namespace Tessera.Tracking.Runs;

/// <summary>A named group of runs.</summary>
/// <param name="Id">The store's id for it.</param>
/// <param name="Name">Its unique name.</param>
/// <param name="CreationTime">When it was created.</param>
public sealed record ExperimentInfo(long Id, string Name, DateTimeOffset CreationTime);
