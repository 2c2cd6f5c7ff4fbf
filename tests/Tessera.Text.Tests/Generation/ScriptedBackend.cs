using Tessera.Text.Generation;

namespace Tessera.Text.Tests.Generation;

/// <summary>
/// A back end whose next token is scripted: after a row's prompt of n real tokens (counted from the attention mask),
/// the k-th generated token is <c>scripts[row][k]</c>, then <paramref name="fallback"/>. It records every forward call,
/// so tests see exactly what the loop fed it.
/// </summary>
sealed class ScriptedBackend(int vocab, int[] promptLengths, int[][] scripts, int fallback, SpecialTokenIds? ids = null, int? maxPositions = 256) : ICausalLMBackend
{
    // Fields, so the nested state can read them.
    readonly int vocab = vocab;
    readonly int[] promptLengths = promptLengths;
    readonly int[][] scripts = scripts;
    readonly int fallback = fallback;

    public List<(long[] Ids, long[] Mask)> Calls { get; } = [];

    public int StatesBegun { get; private set; }

    public int VocabSize => vocab;

    public int? MaxPositions => maxPositions;

    public SpecialTokenIds SpecialTokenIds => ids ?? SpecialTokenIds.None;

    public ICausalLMState Begin(int batchSize)
    {
        StatesBegun++;
        return new State(this, batchSize);
    }

    sealed class State(ScriptedBackend owner, int batch) : ICausalLMState
    {
        public void Forward(ReadOnlySpan<long> inputIds, ReadOnlySpan<long> attentionMask, Span<float> logits)
        {
            owner.Calls.Add((inputIds.ToArray(), attentionMask.ToArray()));
            int total = attentionMask.Length / batch;
            logits.Clear();
            for (int b = 0; b < batch; b++)
            {
                long real = 0;
                foreach (long m in attentionMask.Slice(b * total, total)) real += m;
                int k = (int)real - owner.promptLengths[b];
                int next = k >= 0 && k < owner.scripts[b].Length ? owner.scripts[b][k] : owner.fallback;
                logits[b * owner.vocab + next] = 10f;
            }
        }

        public void Dispose() { }
    }
}
