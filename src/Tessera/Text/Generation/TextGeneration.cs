using System.Runtime.CompilerServices;
using Tessera.Text.Generation;
using Tessera.Transformers;

namespace Tessera.Text.Generation;

/// <summary>
/// Text generation with a <see cref="CausalLanguageModel"/> and its tokenizer, as <c>transformers</c>' <c>generate</c>:
/// greedy or sampled (temperature, top-k, top-p), repetition penalty, EOS and stop strings, a seed, the KV cache,
/// batched prompts with left padding, and streaming.
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
    public static GenerationResult Generate(this CausalLanguageModel model, HfTokenizer tokenizer, string prompt, GenerationConfig? config = null)
    {
        ArgumentNullException.ThrowIfNull(prompt);
        return model.Generate(tokenizer, [prompt], config)[0];
    }

    /// <summary>
    /// Generates completions of several prompts in one batch: the prompts are left-padded with
    /// <see cref="GenerationConfig.EffectivePadTokenId"/> and masked, so each row gets the tokens it would get alone
    /// (up to floating-point rounding); rows that finish early are padded until all are done.
    /// </summary>
    /// <returns>One result per prompt, in order.</returns>
    /// <exception cref="ArgumentException">The config is invalid, there are no prompts, or a prompt fills the model's context (see <see cref="GenerationConfig.TruncatePrompt"/>).</exception>
    public static IReadOnlyList<GenerationResult> Generate(this CausalLanguageModel model, HfTokenizer tokenizer, IReadOnlyList<string> prompts, GenerationConfig? config = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(tokenizer);
        ArgumentNullException.ThrowIfNull(prompts);
        if (prompts.Count == 0) throw new ArgumentException("at least one prompt is needed", nameof(prompts));
        config = Resolve(model, tokenizer, config);
        var promptIds = prompts.Select(p => Encode(model, tokenizer, p, config)).ToArray();
        using var loop = new GenerationLoop(model, promptIds, config);
        var texts = promptIds.Select(p => new CompletionText(tokenizer, p[^1], config.StopStrings)).ToArray();
        while (!loop.Done)
        {
            int[] next = loop.Step();
            for (int b = 0; b < next.Length; b++)
                Accept(loop, texts[b], b, next[b]);
        }
        var results = new GenerationResult[prompts.Count];
        for (int b = 0; b < results.Length; b++)
        {
            texts[b].Complete();
            results[b] = new GenerationResult(texts[b].Text, [.. loop.Generated(b)], promptIds[b], loop.Reason(b));
        }
        return results;
    }

    /// <summary>
    /// Generates a completion of <paramref name="prompt"/> and yields its text piece by piece as tokens are produced.
    /// No piece ends inside a UTF-8 character or holds text past a stop string, and the pieces concatenate to
    /// <see cref="GenerationResult.Text"/> of <see cref="Generate(CausalLanguageModel, HfTokenizer, string, GenerationConfig?)"/>
    /// with the same settings.
    /// </summary>
    /// <remarks>
    /// Each model step runs synchronously on a thread-pool thread inside its own dispose scope, closed before the
    /// piece is yielded, so the consumer may await freely between pieces.
    /// </remarks>
    /// <exception cref="ArgumentException">The config is invalid, or the prompt fills the model's context (see <see cref="GenerationConfig.TruncatePrompt"/>).</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    public static async IAsyncEnumerable<string> GenerateStream(this CausalLanguageModel model, HfTokenizer tokenizer, string prompt,
        GenerationConfig? config = null, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(tokenizer);
        ArgumentNullException.ThrowIfNull(prompt);
        config = Resolve(model, tokenizer, config);
        IReadOnlyList<int> promptIds = Encode(model, tokenizer, prompt, config);
        using var loop = new GenerationLoop(model, [promptIds], config);
        var text = new CompletionText(tokenizer, promptIds[^1], config.StopStrings);
        while (!loop.Done)
        {
            cancellationToken.ThrowIfCancellationRequested();
            int[] next = await Task.Run(loop.Step, cancellationToken).ConfigureAwait(false);
            Accept(loop, text, 0, next[0]);
            string piece = text.TakePiece(final: false);
            if (piece.Length > 0) yield return piece;
        }
        text.Complete();
        string rest = text.TakePiece(final: true);
        if (rest.Length > 0) yield return rest;
    }

    static void Accept(GenerationLoop loop, CompletionText text, int row, int id)
    {
        // -1: finished earlier; a row finished now ended with EOS, whose text is not part of the completion.
        if (id < 0 || loop.IsFinished(row)) return;
        if (text.Append(id)) loop.Finish(row, FinishReason.StopString);
    }

    /// <summary>The config to run with: validated, with missing token ids taken from the model's config, then the tokenizer.</summary>
    static GenerationConfig Resolve(CausalLanguageModel model, HfTokenizer tokenizer, GenerationConfig? config)
    {
        config ??= new GenerationConfig();
        config.Validate();
        PretrainedConfig modelConfig = model.PretrainedConfig;
        if (config.EosTokenIds.Count == 0)
        {
            IReadOnlyList<int> eos = modelConfig.EosTokenIds.Count > 0 ? modelConfig.EosTokenIds
                : tokenizer.EosTokenId is int e ? [e] : [];
            if (eos.Count > 0) config = config.WithEosTokenIds(eos);
        }
        return config with
        {
            BosTokenId = config.BosTokenId ?? modelConfig.BosTokenId ?? tokenizer.BosTokenId,
            PadTokenId = config.PadTokenId ?? modelConfig.PadTokenId ?? tokenizer.PadTokenId,
        };
    }

    /// <summary>The prompt's ids (BOS alone for an empty prompt), fitted into the model's context as <see cref="GenerationConfig.TruncatePrompt"/> says.</summary>
    static IReadOnlyList<int> Encode(CausalLanguageModel model, HfTokenizer tokenizer, string prompt, GenerationConfig config)
    {
        ArgumentNullException.ThrowIfNull(prompt);
        IReadOnlyList<int> ids = tokenizer.Encode(prompt).Ids;
        if (ids.Count == 0)
            ids = config.BosTokenId is int bos ? [bos]
                : throw new ArgumentException("the prompt encodes to no tokens and there is no bos_token_id to start from", nameof(prompt));
        return ContextWindow.FitPrompt(ids, config.NewTokenBudget(ids.Count), model.MaxPositions, config.TruncatePrompt);
    }
}
