using Tessera.Text.Generation;

namespace Tessera.Serving;

/// <summary>
/// Serves any <see cref="ICausalLMBackend"/> (TorchSharp's <c>TorchCausalLM</c>, ONNX Runtime's <c>OrtCausalLM</c>)
/// through <see cref="IServingDecoder"/>. The back end's state cannot split or merge rows, so when rows join or leave
/// the next step recomputes the whole batch (left-padded and masked) from a fresh state; steps between changes reuse
/// its cache. Correct for every back end; <see cref="OrtServingDecoder"/> is the fast path for ONNX folders.
/// </summary>
/// <param name="backend">The model; owned (disposed with this) when it is <see cref="IDisposable"/>.</param>
public sealed class BackendServingDecoder(ICausalLMBackend backend) : IServingDecoder
{
    /// <inheritdoc/>
    public int VocabSize => backend.VocabSize;

    /// <inheritdoc/>
    public int? MaxPositions => backend.MaxPositions;

    /// <inheritdoc/>
    public SpecialTokenIds SpecialTokenIds => backend.SpecialTokenIds;

    /// <inheritdoc/>
    public IDecoderBatch CreateBatch() => new Batch(backend);

    /// <inheritdoc/>
    public void Dispose() => (backend as IDisposable)?.Dispose();

    sealed class Batch(ICausalLMBackend backend) : IDecoderBatch
    {
        readonly List<List<long>> rows = [];
        ICausalLMState? state;   // null after rows changed: the next step recomputes
        int width;

        public int Count => rows.Count;

        public void Add(IReadOnlyList<int> promptIds, Span<float> logits)
        {
            if (promptIds.Count == 0) throw new ArgumentException("a prompt has no tokens", nameof(promptIds));
            long[] ids = [.. promptIds.Select(i => (long)i)];
            using (var alone = backend.Begin(1)) alone.Forward(ids, [.. Enumerable.Repeat(1L, ids.Length)], logits);
            rows.Add([.. ids]);
            Invalidate();
        }

        public void Step(ReadOnlySpan<long> nextIds, Span<float> logits)
        {
            int count = Count;
            for (int r = 0; r < count; r++) rows[r].Add(nextIds[r]);
            if (state is null)
            {
                width = rows.Max(r => r.Count);
                var ids = new long[count * width];
                var mask = new long[count * width];
                for (int r = 0; r < count; r++)
                {
                    int pad = width - rows[r].Count;
                    rows[r].CopyTo(ids, r * width + pad);
                    mask.AsSpan(r * width + pad, rows[r].Count).Fill(1);
                }
                state = backend.Begin(count);
                state.Forward(ids, mask, logits);
                return;
            }
            width++;
            var stepMask = new long[count * width];
            for (int r = 0; r < count; r++) stepMask.AsSpan(r * width + width - rows[r].Count, rows[r].Count).Fill(1);
            state.Forward(nextIds, stepMask, logits);
        }

        public void Remove(int index)
        {
            rows.RemoveAt(index);
            Invalidate();
        }

        void Invalidate()
        {
            state?.Dispose();
            state = null;
        }

        public void Dispose() => Invalidate();
    }
}
