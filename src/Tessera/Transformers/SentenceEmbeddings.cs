using static TorchSharp.torch;

namespace Tessera.Transformers;

/// <summary>Sentence embeddings from an encoder: the mean of the token states over the real (unpadded) tokens, as sentence-transformers' mean pooling.</summary>
public static class SentenceEmbeddings
{
    /// <summary>
    /// Averages <paramref name="lastHiddenState"/> [batch, seq, hidden] over the positions where
    /// <paramref name="attentionMask"/> [batch, seq] is 1 (all positions when null); optionally L2-normalizes.
    /// </summary>
    /// <returns>[batch, hidden].</returns>
    public static Tensor MeanPool(Tensor lastHiddenState, Tensor? attentionMask, bool normalize = false)
    {
        using var scope = NewDisposeScope();
        Tensor pooled;
        if (attentionMask is null) pooled = lastHiddenState.mean([1L]);
        else
        {
            Tensor weights = attentionMask.to(lastHiddenState.device).to_type(lastHiddenState.dtype).unsqueeze(-1);
            pooled = (lastHiddenState * weights).sum(1) / weights.sum(1).clamp_min(1e-9);
        }
        if (normalize) pooled = nn.functional.normalize(pooled, p: 2, dim: -1);
        return pooled.MoveToOuterDisposeScope();
    }

    /// <summary>Runs <paramref name="model"/> in inference mode and mean-pools its output; see <see cref="MeanPool"/>.</summary>
    public static Tensor Encode(BertModel model, Tensor inputIds, Tensor? attentionMask = null, Tensor? tokenTypeIds = null, bool normalize = true)
    {
        ArgumentNullException.ThrowIfNull(model);
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        EncoderOutput output = model.forward(inputIds, attentionMask, tokenTypeIds);
        return MeanPool(output.LastHiddenState, attentionMask, normalize).MoveToOuterDisposeScope();
    }
}
