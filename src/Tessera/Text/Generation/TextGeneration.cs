using Tessera.Transformers;

namespace Tessera.Text.Generation;

/// <summary>
/// Text generation with a <see cref="CausalLanguageModel"/> and its tokenizer, as <c>transformers</c>' <c>generate</c>:
/// greedy or sampled (temperature, top-k, top-p), repetition penalty, EOS and stop strings, a seed, the KV cache,
/// batched prompts with left padding, and streaming. Thin calls into the loop both back ends share
/// (<see cref="CausalLMGeneration"/> over <see cref="TorchCausalLM"/>).
/// </summary>
/// <remarks>
/// The model runs in whatever mode it is in: models from <c>FromPretrained</c> are in eval mode; call
/// <c>model.eval()</c> on one built or trained in code, or dropout makes the output random. Missing EOS, BOS and pad
/// ids in the <see cref="GenerationConfig"/> are taken from the model's config, then from the tokenizer.
/// </remarks>
public static class TextGeneration
{
    /// <summary>Generates a completion of <paramref name="prompt"/>.</summary>
    /// <param name="model">The language model.</param>
    /// <param name="tokenizer">Its tokenizer.</param>
    /// <param name="prompt">The text to continue (encoded with the tokenizer's special tokens, e.g. Llama's &lt;s&gt;).</param>
    /// <param name="config">Generation settings; null uses the defaults (greedy, 20 tokens).</param>
    /// <exception cref="ArgumentException">The config is invalid, or the prompt fills the model's context (see <see cref="GenerationConfig.TruncatePrompt"/>).</exception>
    public static GenerationResult Generate(this CausalLanguageModel model, HfTokenizer tokenizer, string prompt, GenerationConfig? config = null) =>
        new TorchCausalLM(model).Generate(tokenizer, prompt, config);

    /// <summary>
    /// Generates completions of several prompts in one batch: the prompts are left-padded with
    /// <see cref="GenerationConfig.EffectivePadTokenId"/> and masked, so each row gets the tokens it would get alone
    /// (up to floating-point rounding); rows that finish early are padded until all are done.
    /// </summary>
    /// <returns>One result per prompt, in order.</returns>
    /// <exception cref="ArgumentException">The config is invalid, there are no prompts, or a prompt fills the model's context (see <see cref="GenerationConfig.TruncatePrompt"/>).</exception>
    public static IReadOnlyList<GenerationResult> Generate(this CausalLanguageModel model, HfTokenizer tokenizer, IReadOnlyList<string> prompts, GenerationConfig? config = null) =>
        new TorchCausalLM(model).Generate(tokenizer, prompts, config);

    /// <summary>
    /// Generates a completion of <paramref name="prompt"/> and yields its text piece by piece as tokens are produced.
    /// No piece ends inside a UTF-8 character or holds text from a stop string on, and the pieces concatenate to
    /// <see cref="GenerationResult.Text"/> of <see cref="Generate(CausalLanguageModel, HfTokenizer, string, GenerationConfig?)"/>
    /// with the same settings.
    /// </summary>
    /// <remarks>
    /// Each model step runs synchronously on a thread-pool thread inside its own dispose scope, closed before the
    /// piece is yielded, so the consumer may await freely between pieces.
    /// </remarks>
    /// <exception cref="ArgumentException">The config is invalid, or the prompt fills the model's context (see <see cref="GenerationConfig.TruncatePrompt"/>).</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    public static IAsyncEnumerable<string> GenerateStream(this CausalLanguageModel model, HfTokenizer tokenizer, string prompt,
        GenerationConfig? config = null, CancellationToken cancellationToken = default) =>
        new TorchCausalLM(model).GenerateStream(tokenizer, prompt, config, cancellationToken);
}
