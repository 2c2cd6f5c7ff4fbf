using Tessera.Transformers;
using static TorchSharp.torch;

namespace Tessera.Text.Generation;

/// <summary>
/// A <see cref="CausalLanguageModel"/> as a generation back end: each <see cref="ICausalLMState"/> keeps a
/// <see cref="KeyValueCache"/>, and each forward runs in its own dispose scope and no-grad block on the model's device,
/// copying only the last position's logits back. <see cref="TextGeneration"/> uses it; pass it to
/// <see cref="CausalLMGeneration"/> directly for ids in, ids out.
/// </summary>
/// <remarks>The model runs in whatever mode it is in: call <c>model.eval()</c> on one built or trained in code, or dropout makes the output random.</remarks>
/// <param name="model">The model; it stays the caller's to dispose.</param>
public sealed class TorchCausalLM(CausalLanguageModel model) : ICausalLMBackend
{
    readonly CausalLanguageModel model = model ?? throw new ArgumentNullException(nameof(model));

    /// <summary>The wrapped model.</summary>
    public CausalLanguageModel Model => model;

    /// <inheritdoc/>
    public int VocabSize => model.VocabSize;

    /// <inheritdoc/>
    public int? MaxPositions => model.MaxPositions;

    /// <inheritdoc/>
    public SpecialTokenIds SpecialTokenIds =>
        new(model.PretrainedConfig.EosTokenIds, model.PretrainedConfig.BosTokenId, model.PretrainedConfig.PadTokenId);

    /// <inheritdoc/>
    public ICausalLMState Begin(int batchSize)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(batchSize);
        return new State(model, batchSize);
    }

    sealed class State(CausalLanguageModel model, int batch) : ICausalLMState
    {
        readonly KeyValueCache cache = new(model.NumLayers);
        readonly Device device = model.parameters().FirstOrDefault()?.device ?? CPU;

        public void Forward(ReadOnlySpan<long> inputIds, ReadOnlySpan<long> attentionMask, Span<float> logits)
        {
            using var scope = NewDisposeScope();
            using var noGrad = no_grad();
            Tensor ids = tensor(inputIds.ToArray(), [batch, inputIds.Length / batch], device: device);
            Tensor mask = tensor(attentionMask.ToArray(), [batch, attentionMask.Length / batch], device: device);
            Tensor last = model.forward(ids, mask, cache).Logits.select(1, -1).to_type(ScalarType.Float32).cpu().contiguous();
            last.data<float>().CopyTo(logits);
        }

        public void Dispose() => cache.Dispose();
    }
}
