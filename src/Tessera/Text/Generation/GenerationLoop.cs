using Tessera.Transformers;
using TorchSharp;
using static TorchSharp.torch;

namespace Tessera.Text.Generation;

/// <summary>
/// The token loop behind <see cref="TextGeneration"/>: left-padded prompts, then one token per <see cref="Step"/>.
/// Each step is synchronous and runs in its own dispose scope and no-grad block, so a caller may await or yield
/// between steps; the tensors kept across steps (ids, mask, cache) live outside every scope and are freed by
/// <see cref="Dispose"/>.
/// </summary>
internal sealed class GenerationLoop : IDisposable
{
    readonly CausalLanguageModel model;
    readonly GenerationConfig config;
    readonly HashSet<int> eos;
    readonly Device device;
    readonly torch.Generator? generator;
    readonly bool[] finished;
    readonly FinishReason[] reasons;
    readonly List<int>[] generated;
    readonly int budget;
    KeyValueCache? cache;
    Tensor sequences, mask;
    Tensor? lastTokens;
    int steps;

    public GenerationLoop(CausalLanguageModel model, IReadOnlyList<IReadOnlyList<int>> prompts, GenerationConfig config)
    {
        this.model = model;
        this.config = config;
        eos = [.. config.EosTokenIds];
        device = model.parameters().FirstOrDefault()?.device ?? CPU;
        int batch = prompts.Count, width = prompts.Max(p => p.Count);
        if (width >= model.MaxPositions)
            throw new ArgumentException($"the prompt has {width} tokens; the model's context is {model.MaxPositions} positions, so nothing can be generated", nameof(prompts));
        budget = Math.Min(prompts.Min(p => config.NewTokenBudget(p.Count)), model.MaxPositions - width);
        var ids = new long[batch * width];
        var maskValues = new long[batch * width];
        long pad = config.EffectivePadTokenId;
        for (int b = 0; b < batch; b++)
        {
            int offset = width - prompts[b].Count;
            for (int k = 0; k < width; k++)
            {
                bool real = k >= offset;
                ids[b * width + k] = real ? prompts[b][k - offset] : pad;
                maskValues[b * width + k] = real ? 1 : 0;
            }
        }
        sequences = tensor(ids, [batch, width], device: device).DetachFromDisposeScope();
        mask = tensor(maskValues, [batch, width], device: device).DetachFromDisposeScope();
        finished = new bool[batch];
        reasons = new FinishReason[batch];
        generated = [.. Enumerable.Range(0, batch).Select(_ => new List<int>())];
        if (config.DoSample && config.Seed is long seed) generator = new torch.Generator(unchecked((ulong)seed), device);
        if (config.UseCache) cache = new KeyValueCache(model.NumLayers);
    }

    public int BatchSize => finished.Length;

    /// <summary>True once every row is finished or the budget is spent.</summary>
    public bool Done => steps >= budget || finished.All(f => f);

    public bool IsFinished(int row) => finished[row];

    public IReadOnlyList<int> Generated(int row) => generated[row];

    /// <summary>Why <paramref name="row"/> ended (<see cref="FinishReason.Length"/> while it runs).</summary>
    public FinishReason Reason(int row) => reasons[row];

    /// <summary>Ends <paramref name="row"/>: later steps fill it with padding.</summary>
    public void Finish(int row, FinishReason reason)
    {
        if (finished[row]) return;
        finished[row] = true;
        reasons[row] = reason;
    }

    /// <summary>
    /// Runs the model once and picks the next token of every row. Returns the new id per row, or -1 for rows that
    /// were already finished. A row whose new id is an EOS id is finished with <see cref="FinishReason.EndOfSequence"/>.
    /// </summary>
    public int[] Step()
    {
        if (Done) throw new InvalidOperationException("generation is already done");
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        CausalLMOutput output = cache is null || lastTokens is null
            ? model.forward(sequences, mask, cache, useCache: cache is not null)
            : model.forward(lastTokens, mask, cache);
        Tensor scores = output.Logits.select(1, -1).to_type(ScalarType.Float32);
        if (config.RepetitionPenalty != 1) scores = LogitsProcessors.RepetitionPenalty(scores, sequences, config.RepetitionPenalty, mask);
        Tensor next;
        if (config.DoSample)
        {
            if (config.Temperature != 1) scores = LogitsProcessors.Temperature(scores, config.Temperature);
            if (config.TopK > 0) scores = LogitsProcessors.TopK(scores, config.TopK);
            if (config.TopP < 1) scores = LogitsProcessors.TopP(scores, config.TopP);
            next = LogitsProcessors.Sample(scores, generator);
        }
        else
        {
            next = LogitsProcessors.Greedy(scores);
        }
        Tensor done = tensor(finished, device: device);
        next = where(done, tensor((long)config.EffectivePadTokenId, device: device), next).unsqueeze(1);
        Replace(ref sequences, cat([sequences, next], 1));
        Replace(ref mask, cat([mask, ones_like(next)], 1));
        if (cache is not null)
        {
            lastTokens?.Dispose();
            lastTokens = next.DetachFromDisposeScope();
        }
        long[] ids = next.cpu().data<long>().ToArray();
        steps++;
        var result = new int[ids.Length];
        for (int b = 0; b < ids.Length; b++)
        {
            if (finished[b]) { result[b] = -1; continue; }
            int id = checked((int)ids[b]);
            result[b] = id;
            generated[b].Add(id);
            if (eos.Contains(id)) Finish(b, FinishReason.EndOfSequence);
        }
        return result;
    }

    static void Replace(ref Tensor field, Tensor value)
    {
        Tensor old = field;
        field = value.DetachFromDisposeScope();
        old.Dispose();
    }

    public void Dispose()
    {
        cache?.Dispose();
        sequences.Dispose();
        mask.Dispose();
        lastTokens?.Dispose();
        generator?.Dispose();
    }
}
