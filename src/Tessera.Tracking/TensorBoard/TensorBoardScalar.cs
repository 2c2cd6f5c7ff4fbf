namespace Tessera.Tracking.TensorBoard;

/// <summary>A scalar read back from an event file.</summary>
/// <param name="Tag">Series name.</param>
/// <param name="Step">Global step.</param>
/// <param name="Value">The value.</param>
/// <param name="WallTime">Seconds since the Unix epoch.</param>
public sealed record TensorBoardScalar(string Tag, long Step, float Value, double WallTime);
