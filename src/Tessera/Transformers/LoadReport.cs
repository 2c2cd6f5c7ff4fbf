namespace Tessera.Transformers;

/// <summary>What loading a checkpoint into a model did.</summary>
/// <param name="MissingKeys">Parameters of the model that no checkpoint tensor filled (left as initialised).</param>
/// <param name="UnexpectedKeys">Checkpoint tensors that matched no parameter and were skipped (another head's, or allowed by <see cref="FromPretrainedOptions.AllowUnexpectedKeys"/>).</param>
/// <param name="ConvertedKeys">Parameters whose checkpoint dtype differed from the model's and were converted while copying.</param>
public sealed record LoadReport(IReadOnlyList<string> MissingKeys, IReadOnlyList<string> UnexpectedKeys, IReadOnlyList<string> ConvertedKeys);
