namespace Tessera.Text.Generation;

/// <summary>
/// THE token loop of generation, over any <see cref="ICausalLMBackend"/>: the prompts are left-padded to the longest
/// and masked, then each <see cref="Step"/> runs the model once (the whole prompts first, then one new token per row),
/// picks every row's next token with one <see cref="TokenSampler"/> and ends rows at an EOS id. Finished rows are fed
/// padding until all are done. Each step is synchronous, so a caller may await or yield between steps.
/// </summary>
/// <remarks>
/// The config is used as given: resolve missing token ids first (<see cref="CausalLMGeneration.ResolveConfig"/>).
/// Prompts are used as given too: fit them into the context first (<see cref="ContextWindow.FitPrompt"/>).
/// </remarks>
public sealed class GenerationLoop : IDisposable
{
    readonly ICausalLMBackend backend;
    readonly GenerationConfig config;
    readonly TokenSampler sampler;
    readonly HashSet<int> eos;
    readonly int vocab, budget;
    readonly long pad;
    readonly bool[] finished;
    readonly FinishReason[] reasons;
    readonly List<int>[] generated;
    readonly HashSet<int>[] seen;
    readonly List<long>[] sequences, masks;
    readonly float[] logits;
    ICausalLMState? state;
    long[] newIds;
    int steps;

    /// <summary>Starts generating after <paramref name="prompts"/> (at least one, none empty).</summary>
    /// <exception cref="ArgumentException">There are no prompts, one is empty, the config is invalid, or the longest prompt fills the model's context.</exception>
    public GenerationLoop(ICausalLMBackend backend, IReadOnlyList<IReadOnlyList<int>> prompts, GenerationConfig config)
    {
        ArgumentNullException.ThrowIfNull(backend);
        ArgumentNullException.ThrowIfNull(prompts);
        ArgumentNullException.ThrowIfNull(config);
        if (prompts.Count == 0) throw new ArgumentException("at least one prompt is needed", nameof(prompts));
        if (prompts.Any(p => p is null || p.Count == 0)) throw new ArgumentException("a prompt has no tokens", nameof(prompts));
        this.backend = backend;
        this.config = config;
        sampler = new TokenSampler(config);
        eos = [.. config.EosTokenIds];
        vocab = backend.VocabSize;
        int batch = prompts.Count, width = prompts.Max(p => p.Count);
        budget = prompts.Min(p => config.NewTokenBudget(p.Count));
        if (backend.MaxPositions is int max)
        {
            if (width >= max)
                throw new ArgumentException($"the prompt has {width} tokens; the model's context is {max} positions, so nothing can be generated", nameof(prompts));
            budget = Math.Min(budget, max - width);
        }
        pad = config.EffectivePadTokenId;
        sequences = new List<long>[batch];
        masks = new List<long>[batch];
        for (int b = 0; b < batch; b++)
        {
            int padding = width - prompts[b].Count;
            sequences[b] = [.. Enumerable.Repeat(pad, padding), .. prompts[b].Select(id => (long)id)];
            masks[b] = [.. Enumerable.Repeat(0L, padding), .. Enumerable.Repeat(1L, prompts[b].Count)];
        }
        newIds = Flatten(sequences);
        finished = new bool[batch];
        reasons = new FinishReason[batch];
        generated = [.. prompts.Select(_ => new List<int>())];
        seen = [.. prompts.Select(p => new HashSet<int>(p))];
        logits = new float[batch * vocab];
    }

    /// <summary>Number of rows.</summary>
    public int BatchSize => finished.Length;

    /// <summary>True once every row is finished or the budget (<see cref="GenerationConfig.NewTokenBudget"/>, or the context) is spent.</summary>
    public bool Done => steps >= budget || finished.All(f => f);

    /// <summary>Whether <paramref name="row"/> has ended.</summary>
    public bool IsFinished(int row) => finished[row];

    /// <summary>The ids generated for <paramref name="row"/> so far (an ending EOS id included).</summary>
    public IReadOnlyList<int> Generated(int row) => generated[row];

    /// <summary>Why <paramref name="row"/> ended (<see cref="FinishReason.Length"/> while it runs).</summary>
    public FinishReason Reason(int row) => reasons[row];

    /// <summary>Ends <paramref name="row"/> (e.g. at a stop string): later steps feed it padding.</summary>
    public void Finish(int row, FinishReason reason)
    {
        if (finished[row]) return;
        finished[row] = true;
        reasons[row] = reason;
    }

    /// <summary>
    /// Runs the model once and picks the next token of every row. Returns the new id per row, or -1 for rows that were
    /// already finished. A row whose new id is an EOS id is finished with <see cref="FinishReason.EndOfSequence"/>.
    /// </summary>
    /// <exception cref="InvalidOperationException">Generation is already <see cref="Done"/>.</exception>
    public int[] Step()
    {
        if (Done) throw new InvalidOperationException("generation is already done");
        int batch = BatchSize;
        long[] maskValues = Flatten(masks);
        if (config.UseCache)
        {
            state ??= backend.Begin(batch);
            state.Forward(newIds, maskValues, logits);
        }
        else
        {
            // Without the cache every step recomputes the whole sequence from a fresh state.
            using var fresh = backend.Begin(batch);
            fresh.Forward(Flatten(sequences), maskValues, logits);
        }
        var result = new int[batch];
        var next = new long[batch];
        for (int b = 0; b < batch; b++)
        {
            if (finished[b])
            {
                result[b] = -1;
                next[b] = pad;
                continue;
            }
            int id = sampler.Next(logits.AsSpan(b * vocab, vocab), seen[b]);
            result[b] = id;
            next[b] = id;
            generated[b].Add(id);
            seen[b].Add(id);
            if (eos.Contains(id)) Finish(b, FinishReason.EndOfSequence);
        }
        for (int b = 0; b < batch; b++)
        {
            sequences[b].Add(next[b]);
            masks[b].Add(1);
        }
        newIds = next;
        steps++;
        return result;
    }

    /// <summary>The rows (all of one length) as one row-major [batch, length] array.</summary>
    static long[] Flatten(List<long>[] rows)
    {
        int length = rows[0].Count;
        var flat = new long[rows.Length * length];
        for (int b = 0; b < rows.Length; b++) rows[b].CopyTo(flat, b * length);
        return flat;
    }

    /// <summary>Frees the back end's state (its cache).</summary>
    public void Dispose() => state?.Dispose();
}
