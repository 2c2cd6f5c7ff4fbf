using static TorchSharp.torch;

namespace Tessera.Transformers;

/// <summary>
/// A decoder-only language model (<see cref="Gpt2LMHeadModel"/>, <see cref="LlamaForCausalLM"/>): maps token ids to
/// next-token logits, appending to a <see cref="KeyValueCache"/> so generation can run one token at a time.
/// </summary>
public abstract class CausalLanguageModel : PreTrainedModel
{
    /// <summary>Names the module.</summary>
    protected CausalLanguageModel(string name) : base(name) { }

    /// <summary>Vocabulary size (the last dimension of the logits).</summary>
    public abstract int VocabSize { get; }

    /// <summary>Number of decoder layers (the size of a <see cref="KeyValueCache"/> for this model).</summary>
    public abstract int NumLayers { get; }

    /// <summary>Longest sequence (cached plus new tokens) the model accepts.</summary>
    public abstract int MaxPositions { get; }

    /// <summary>
    /// Runs the model on <paramref name="inputIds"/> [batch, new_tokens] (int64).
    /// </summary>
    /// <param name="inputIds">Token ids of the new positions.</param>
    /// <param name="attentionMask">
    /// 1 for tokens and 0 for padding, [batch, cached + new]; null means no padding. Positions are counted over the
    /// real tokens (as <c>transformers</c>' generate does), so left-padded prompts give the same logits as unpadded ones.
    /// Logits at padding positions are unspecified.
    /// </param>
    /// <param name="pastKeyValues">Keys and values of earlier positions; updated in place and returned. Null starts a new cache.</param>
    /// <param name="useCache">When false no cache is built (training); <see cref="CausalLMOutput.PastKeyValues"/> is then <paramref name="pastKeyValues"/>.</param>
    /// <returns>Logits [batch, new_tokens, vocab] and the cache.</returns>
    /// <exception cref="ArgumentException">The sequence is longer than <see cref="MaxPositions"/>, or the mask does not cover cached + new positions.</exception>
    public abstract CausalLMOutput forward(Tensor inputIds, Tensor? attentionMask = null, KeyValueCache? pastKeyValues = null, bool useCache = true);

    /// <summary>
    /// The mean next-token cross-entropy of <paramref name="logits"/> [batch, seq, vocab] against <paramref name="labels"/>
    /// [batch, seq] shifted by one (label at position t+1 scores the logits at t); labels equal to
    /// <paramref name="ignoreIndex"/> (-100, as in <c>transformers</c>) are skipped.
    /// </summary>
    public static Tensor CausalLMLoss(Tensor logits, Tensor labels, long ignoreIndex = -100)
    {
        using var scope = NewDisposeScope();
        long seq = logits.shape[1];
        // Shift the labels, not the logits: narrowing [batch, seq, vocab] makes reshape copy the whole logits tensor
        // (0.8 GB for 32 x 128 tokens of GPT-2's vocabulary); the last position gets ignoreIndex instead.
        Tensor shiftedLabels = cat([labels.narrow(1, 1, seq - 1), full(labels.shape[0], 1, ignoreIndex, dtype: labels.dtype, device: labels.device)], dim: 1).reshape(-1);
        Tensor flatLogits = logits.reshape(-1, logits.shape[2]);
        if (flatLogits.dtype != ScalarType.Float32) flatLogits = flatLogits.to_type(ScalarType.Float32);
        return nn.functional.cross_entropy(flatLogits, shiftedLabels, ignore_index: ignoreIndex).MoveToOuterDisposeScope();
    }
}
