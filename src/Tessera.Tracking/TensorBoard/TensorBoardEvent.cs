namespace Tessera.Tracking.TensorBoard;

/// <summary>One event read back from an event file.</summary>
/// <param name="WallTime">Seconds since the Unix epoch.</param>
/// <param name="Step">Global step (0 when absent).</param>
/// <param name="FileVersion">Set on the first event of a file, e.g. <c>brain.Event:2</c>.</param>
/// <param name="Values">Summary values of the event; empty for non-summary events.</param>
public sealed record TensorBoardEvent(double WallTime, long Step, string? FileVersion, IReadOnlyList<TensorBoardValue> Values);
