using Tessera.Transformers;
using static TorchSharp.torch;

namespace Tessera.Tests.Text.Generation;

/// <summary>
/// A "model" whose next token is scripted: after a row's prompt of n real tokens, the k-th generated token is
/// <c>scripts[row][k]</c> (then <paramref name="fallback"/>). It grows a one-layer cache like a real decoder, so the
/// generation loop's cache and mask bookkeeping runs as usual.
/// </summary>
sealed class ScriptedModel(int vocab, int[] promptLengths, int[][] scripts, int fallback) : CausalLanguageModel(nameof(ScriptedModel))
{
    readonly Gpt2Config config = new() { VocabSize = vocab, NPositions = 256, NEmbd = 8, NLayer = 1, NHead = 1 };

    public override PretrainedConfig PretrainedConfig => config;
    public override string BaseModelPrefix => "";
    public override int VocabSize => vocab;
    public override int NumLayers => 1;
    public override int MaxPositions => config.NPositions;

    public override CausalLMOutput forward(Tensor inputIds, Tensor? attentionMask = null, KeyValueCache? pastKeyValues = null, bool useCache = true)
    {
        using var scope = NewDisposeScope();
        long batch = inputIds.shape[0], n = inputIds.shape[1];
        long total = (pastKeyValues?.SequenceLength ?? 0) + n;
        long[] real = attentionMask is null ? [.. Enumerable.Repeat(total, (int)batch)] : attentionMask.sum(1).data<long>().ToArray();
        var logits = zeros(batch, n, vocab);
        for (int b = 0; b < batch; b++)
        {
            int k = (int)real[b] - promptLengths[b];
            int next = k >= 0 && k < scripts[b].Length ? scripts[b][k] : fallback;
            logits[b, n - 1, next] = tensor(10f);
        }
        if (useCache && pastKeyValues is not null) pastKeyValues.Update(0, zeros(batch, 1, n, 1), zeros(batch, 1, n, 1));
        return new CausalLMOutput(logits.MoveToOuterDisposeScope(), useCache ? pastKeyValues : null);
    }
}
