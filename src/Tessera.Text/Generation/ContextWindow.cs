namespace Tessera.Text.Generation;

/// <summary>
/// Fits a prompt into a decoder's context before generation: the one rule that TorchSharp generation
/// (<c>Tessera.Text.Generation</c>) and ONNX Runtime generation (<c>Tessera.Runtime.Generation.OrtCausalLM</c>) share through <see cref="CausalLMGeneration"/>.
/// It lives here because this assembly is the only one both of them reference.
/// </summary>
public static class ContextWindow
{
    /// <summary>
    /// Returns the prompt to generate from. Without <paramref name="truncatePrompt"/> that is <paramref name="promptIds"/>
    /// itself; generation then stops when the context is full. With it, when prompt + <paramref name="maxNewTokens"/>
    /// does not fit in <paramref name="contextSize"/>, only the last <c>contextSize - maxNewTokens</c> tokens of the
    /// prompt are kept (what Hugging Face calls left truncation).
    /// </summary>
    /// <param name="promptIds">The prompt's token ids.</param>
    /// <param name="maxNewTokens">How many tokens will be generated after the prompt.</param>
    /// <param name="contextSize">The model's context (its position count); null when unknown, which leaves the prompt as it is.</param>
    /// <param name="truncatePrompt">Keep the end of a prompt that is too long instead of failing.</param>
    /// <exception cref="ArgumentException">
    /// Without <paramref name="truncatePrompt"/>: the prompt fills the whole context, so nothing could be generated. With
    /// it: <paramref name="maxNewTokens"/> alone fills the context, so no prompt token would be left. The message gives
    /// the prompt length, max_new_tokens and the context size.
    /// </exception>
    public static IReadOnlyList<int> FitPrompt(IReadOnlyList<int> promptIds, int maxNewTokens, int? contextSize, bool truncatePrompt)
    {
        ArgumentNullException.ThrowIfNull(promptIds);
        ArgumentOutOfRangeException.ThrowIfNegative(maxNewTokens);
        if (contextSize is not int context) return promptIds;
        int length = promptIds.Count, keep = context - maxNewTokens;
        if (truncatePrompt)
        {
            if (length + maxNewTokens <= context) return promptIds;
            if (keep < 1)
                throw new ArgumentException($"cannot truncate the prompt ({length} tokens): max_new_tokens = {maxNewTokens} leaves no room for it " +
                    $"in the model's context of {context} positions; ask for at most {context - 1} new tokens", nameof(promptIds));
            return [.. promptIds.Skip(length - keep)];
        }
        if (length < context) return promptIds;
        string remedy = keep >= 1
            ? $"shorten the prompt, or set TruncatePrompt (\"truncate_prompt\" in generation_config.json, tessera generate --truncate-prompt) to keep only its last {keep} tokens"
            : $"shorten the prompt and ask for fewer than {context} new tokens";
        throw new ArgumentException($"the prompt has {length} tokens and max_new_tokens is {maxNewTokens}, but the model's context is {context} positions, " +
            $"so nothing can be generated: {remedy}", nameof(promptIds));
    }
}
