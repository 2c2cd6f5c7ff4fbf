namespace Tessera.Tracking.TensorBoard;

/// <summary>One summary value: a scalar (<see cref="SimpleValue"/>) or text (<see cref="Text"/>).</summary>
/// <param name="Tag">Series name.</param>
/// <param name="SimpleValue">The scalar, when the value is a scalar.</param>
/// <param name="Text">The text, when the value is a string tensor (text plugin).</param>
public sealed record TensorBoardValue(string Tag, float? SimpleValue, string? Text);
