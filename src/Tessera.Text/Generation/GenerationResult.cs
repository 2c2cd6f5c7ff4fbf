namespace Tessera.Text.Generation;

/// <summary>One generated completion.</summary>
/// <param name="Text">The completion after the prompt: special tokens left out, cut before a stop string.</param>
/// <param name="TokenIds">The generated ids (an ending EOS id included; no padding).</param>
/// <param name="PromptIds">The prompt's ids as the model saw them (special tokens included, no padding; only the kept end when <see cref="GenerationConfig.TruncatePrompt"/> cut it).</param>
/// <param name="FinishReason">Why generation stopped.</param>
public sealed record GenerationResult(string Text, IReadOnlyList<int> TokenIds, IReadOnlyList<int> PromptIds, FinishReason FinishReason);
