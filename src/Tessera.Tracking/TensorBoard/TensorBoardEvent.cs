namespace Tessera.Tracking.TensorBoard;

/// <summary>One event read back from an event file.</summary>
/// <param name="WallTime">Seconds since the Unix epoch.</param>
/// <param name="Step">Global step (0 when absent).</param>
/// <param name="FileVersion">Set on the first event of a file, e.g. <c>brain.Event:2</c>.</param>
/// <param name="Values">Summary values of the event; empty for non-summary events.</param>
public sealed record TensorBoardEvent(double WallTime, long Step, string? FileVersion, IReadOnlyList<TensorBoardValue> Values);

/// <summary>One summary value: a scalar (<see cref="SimpleValue"/>) or text (<see cref="Text"/>).</summary>
/// <param name="Tag">Series name.</param>
/// <param name="SimpleValue">The scalar, when the value is a scalar.</param>
/// <param name="Text">The text, when the value is a string tensor (text plugin).</param>
public sealed record TensorBoardValue(string Tag, float? SimpleValue, string? Text);

/// <summary>A scalar read back from an event file.</summary>
/// <param name="Tag">Series name.</param>
/// <param name="Step">Global step.</param>
/// <param name="Value">The value.</param>
/// <param name="WallTime">Seconds since the Unix epoch.</param>
public sealed record TensorBoardScalar(string Tag, long Step, float Value, double WallTime);
