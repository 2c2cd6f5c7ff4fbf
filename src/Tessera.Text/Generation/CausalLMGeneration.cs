using System.Runtime.CompilerServices;

namespace Tessera.Text.Generation;

/// <summary>
/// Generation with any <see cref="ICausalLMBackend"/> (TorchSharp or ONNX Runtime), as <c>transformers</c>'
/// <c>generate</c>: ids in and ids out, or a prompt in and its completion out (whole or streamed), with greedy or
/// sampled decoding (temperature, top-k, top-p), repetition penalty, EOS and stop strings, a seed, batched prompts with
/// left padding, and the prompt fitted into the context (<see cref="GenerationConfig.TruncatePrompt"/>).
/// </summary>
/// <remarks>
/// Ids the <see cref="GenerationConfig"/> leaves unset are taken from the model's config
/// (<see cref="ICausalLMBackend.SpecialTokenIds"/>), then from the tokenizer. An <c>eos_token_id</c> of <c>[]</c>
/// turns EOS off; null means "the model's".
/// </remarks>
public static class CausalLMGeneration
{
    /// <summary>
    /// The config to run with: validated, with a missing EOS, BOS and pad id taken from the model's config, then from
    /// <paramref name="tokenizer"/> (when given).
    /// </summary>
    /// <exception cref="ArgumentException">The config is invalid; the message names the field.</exception>
    public static GenerationConfig ResolveConfig(this ICausalLMBackend backend, GenerationConfig? config, HfTokenizer? tokenizer = null)
    {
        ArgumentNullException.ThrowIfNull(backend);
        config ??= new GenerationConfig();
        config.Validate();
        SpecialTokenIds model = backend.SpecialTokenIds;
        if (config.EosTokenId is null or { ValueKind: System.Text.Json.JsonValueKind.Null })
        {
            IReadOnlyList<int> eos = model.EosTokenIds.Count > 0 ? model.EosTokenIds
                : tokenizer?.EosTokenId is int e ? [e] : [];
            if (eos.Count > 0) config = config.WithEosTokenIds(eos);
        }
        return config with
        {
            BosTokenId = config.BosTokenId ?? model.BosTokenId ?? tokenizer?.BosTokenId,
            PadTokenId = config.PadTokenId ?? model.PadTokenId ?? tokenizer?.PadTokenId,
        };
    }

    /// <summary>Generates ids after <paramref name="promptIds"/>; stops after an EOS id (which is included), at the budget or at the end of the context.</summary>
    /// <exception cref="ArgumentException">The config is invalid, the prompt is empty, or it fills the context (see <see cref="GenerationConfig.TruncatePrompt"/>).</exception>
    public static int[] GenerateIds(this ICausalLMBackend backend, IReadOnlyList<int> promptIds, GenerationConfig? config = null)
    {
        ArgumentNullException.ThrowIfNull(promptIds);
        return backend.GenerateIds([promptIds], config)[0];
    }

    /// <summary>
    /// Generates for several prompts at once: left-padded to the longest (padding masked, positions counted over real
    /// tokens), one model call per step for the whole batch; a row ends after its EOS id while the others go on. Sampling
    /// draws for the unfinished rows in order from one seeded generator.
    /// </summary>
    /// <returns>The generated ids of each prompt.</returns>
    /// <exception cref="ArgumentException">The config is invalid, there are no prompts, one is empty or has an id outside the vocabulary, or one fills the context (see <see cref="GenerationConfig.TruncatePrompt"/>).</exception>
    public static int[][] GenerateIds(this ICausalLMBackend backend, IReadOnlyList<IReadOnlyList<int>> prompts, GenerationConfig? config = null)
    {
        ArgumentNullException.ThrowIfNull(prompts);
        config = backend.ResolveConfig(config);
        if (prompts.Any(p => p is null || p.Count == 0)) throw new ArgumentException("a prompt has no tokens", nameof(prompts));
        foreach (int id in prompts.SelectMany(p => p))
            if (id < 0 || id >= backend.VocabSize)
                throw new ArgumentException($"prompt id {id} is outside the model's vocabulary of {backend.VocabSize} ids", nameof(prompts));
        IReadOnlyList<int>[] fitted = [.. prompts.Select(p => Fit(backend, p, config))];
        using var loop = new GenerationLoop(backend, fitted, config);
        while (!loop.Done) loop.Step();
        return [.. Enumerable.Range(0, fitted.Length).Select(r => loop.Generated(r).ToArray())];
    }

    /// <summary>Generates a completion of <paramref name="prompt"/>.</summary>
    /// <param name="backend">The language model.</param>
    /// <param name="tokenizer">Its tokenizer.</param>
    /// <param name="prompt">The text to continue (encoded with the tokenizer's special tokens, e.g. Llama's &lt;s&gt;).</param>
    /// <param name="config">Generation settings; null uses the defaults (greedy, 20 tokens).</param>
    /// <exception cref="ArgumentException">The config is invalid, or the prompt fills the model's context (see <see cref="GenerationConfig.TruncatePrompt"/>).</exception>
    /// <exception cref="TesseraException">The tokenizer gives an id outside the model's vocabulary (it belongs to another model).</exception>
    public static GenerationResult Generate(this ICausalLMBackend backend, HfTokenizer tokenizer, string prompt, GenerationConfig? config = null)
    {
        ArgumentNullException.ThrowIfNull(prompt);
        return backend.Generate(tokenizer, [prompt], config)[0];
    }

    /// <summary>
    /// Generates completions of several prompts in one batch: the prompts are left-padded with
    /// <see cref="GenerationConfig.EffectivePadTokenId"/> and masked, so each row gets the tokens it would get alone
    /// (up to floating-point rounding, and with greedy decoding); rows that finish early are padded until all are done.
    /// </summary>
    /// <returns>One result per prompt, in order.</returns>
    /// <exception cref="ArgumentException">The config is invalid, there are no prompts, or a prompt fills the model's context (see <see cref="GenerationConfig.TruncatePrompt"/>).</exception>
    /// <exception cref="TesseraException">The tokenizer gives an id outside the model's vocabulary (it belongs to another model).</exception>
    public static IReadOnlyList<GenerationResult> Generate(this ICausalLMBackend backend, HfTokenizer tokenizer, IReadOnlyList<string> prompts, GenerationConfig? config = null)
    {
        ArgumentNullException.ThrowIfNull(backend);
        ArgumentNullException.ThrowIfNull(tokenizer);
        ArgumentNullException.ThrowIfNull(prompts);
        if (prompts.Count == 0) throw new ArgumentException("at least one prompt is needed", nameof(prompts));
        config = backend.ResolveConfig(config, tokenizer);
        IReadOnlyList<int>[] promptIds = [.. prompts.Select(p => Encode(backend, tokenizer, p, config))];
        using var loop = new GenerationLoop(backend, promptIds, config);
        var texts = promptIds.Select(p => new CompletionText(tokenizer, p[^1], config.StopStrings)).ToArray();
        while (!loop.Done)
        {
            int[] next = loop.Step();
            for (int b = 0; b < next.Length; b++) Accept(loop, texts[b], b, next[b]);
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
    /// No piece ends inside a UTF-8 character or holds text from a stop string on, and the pieces concatenate to
    /// <see cref="GenerationResult.Text"/> of <see cref="Generate(ICausalLMBackend, HfTokenizer, string, GenerationConfig?)"/>
    /// with the same settings.
    /// </summary>
    /// <remarks>Each model step runs synchronously on a thread-pool thread, so the consumer may await freely between pieces.</remarks>
    /// <exception cref="ArgumentException">The config is invalid, or the prompt fills the model's context (see <see cref="GenerationConfig.TruncatePrompt"/>).</exception>
    /// <exception cref="TesseraException">The tokenizer gives an id outside the model's vocabulary (it belongs to another model).</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    public static async IAsyncEnumerable<string> GenerateStream(this ICausalLMBackend backend, HfTokenizer tokenizer, string prompt,
        GenerationConfig? config = null, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(backend);
        ArgumentNullException.ThrowIfNull(tokenizer);
        ArgumentNullException.ThrowIfNull(prompt);
        config = backend.ResolveConfig(config, tokenizer);
        IReadOnlyList<int> promptIds = Encode(backend, tokenizer, prompt, config);
        using var loop = new GenerationLoop(backend, [promptIds], config);
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

    /// <summary>The prompt's ids (BOS alone for an empty prompt), fitted into the model's context.</summary>
    static IReadOnlyList<int> Encode(ICausalLMBackend backend, HfTokenizer tokenizer, string prompt, GenerationConfig config)
    {
        ArgumentNullException.ThrowIfNull(prompt);
        IReadOnlyList<int> ids = tokenizer.Encode(prompt).Ids;
        if (ids.Count == 0)
            ids = config.BosTokenId is int bos ? [bos]
                : throw new ArgumentException("the prompt encodes to no tokens and there is no bos_token_id to start from", nameof(prompt));
        // A tokenizer from another model would index past the embedding table inside the model: say which files disagree.
        foreach (int id in ids)
        {
            if (id >= 0 && id < backend.VocabSize) continue;
            string token = tokenizer.IdToToken(id) is { } t ? $" ('{t}')" : "";
            throw new TesseraException(
                $"the tokenizer (tokenizer.json) gives id {id}{token} but the model (config.json vocab_size) has {backend.VocabSize} ids: the tokenizer does not belong to this model");
        }
        return Fit(backend, ids, config);
    }

    static IReadOnlyList<int> Fit(ICausalLMBackend backend, IReadOnlyList<int> ids, GenerationConfig config) =>
        ContextWindow.FitPrompt(ids, config.NewTokenBudget(ids.Count), backend.MaxPositions, config.TruncatePrompt);
}
