using static TorchSharp.torch;

namespace Tessera.Transformers;

/// <summary>
/// Masks and positions for decoders, following what <c>transformers</c> does during generation: a 0/1
/// <c>attention_mask</c> [batch, past + new] marks padding (left padding for batched prompts), and positions count only
/// the real tokens (<c>cumsum(mask) - 1</c>, 1 on padding), so a left-padded row gives the same logits as the row alone.
/// </summary>
internal static class AttentionMasks
{
    /// <summary>Position ids [batch or 1, newLength] of the new tokens.</summary>
    public static Tensor PositionIds(Tensor? attentionMask, long pastLength, long newLength, Device device)
    {
        if (attentionMask is null)
            return arange(pastLength, pastLength + newLength, dtype: ScalarType.Int64, device: device).unsqueeze(0);
        using var scope = NewDisposeScope();
        Tensor mask = attentionMask.to(device).to_type(ScalarType.Int64);
        Tensor positions = mask.cumsum(-1, ScalarType.Int64) - 1;
        positions = positions.masked_fill(mask.eq(0), 1);
        return positions.narrow(1, positions.shape[1] - newLength, newLength).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// An additive mask [batch or 1, 1, newLength, past + newLength]: 0 where a query may attend, the dtype's lowest
    /// value where it may not (a later position, padding, or outside the sliding window).
    /// </summary>
    /// <exception cref="ArgumentException">The attention mask's length is not past + new.</exception>
    public static Tensor Causal(Tensor? attentionMask, long pastLength, long newLength, ScalarType dtype, Device device, int? slidingWindow = null)
    {
        using var scope = NewDisposeScope();
        long total = pastLength + newLength;
        Tensor q = arange(pastLength, total, dtype: ScalarType.Int64, device: device).unsqueeze(1);
        Tensor k = arange(0, total, dtype: ScalarType.Int64, device: device).unsqueeze(0);
        Tensor allowed = k.le(q);
        if (slidingWindow is int w) allowed = allowed.logical_and(q - k < w);
        allowed = allowed.unsqueeze(0).unsqueeze(0);
        if (attentionMask is not null)
        {
            if (attentionMask.ndim != 2 || attentionMask.shape[1] != total)
                throw new ArgumentException($"attention_mask must be [batch, {total}] (cached {pastLength} + new {newLength} positions), got [{string.Join(", ", attentionMask.shape)}]", nameof(attentionMask));
            Tensor keep = attentionMask.to(device).ne(0).unsqueeze(1).unsqueeze(1);
            allowed = allowed.logical_and(keep);
        }
        Tensor additive = zeros(allowed.shape, dtype, device).masked_fill(allowed.logical_not(), Lowest(dtype));
        return additive.MoveToOuterDisposeScope();
    }

    /// <summary>An additive key-padding mask [batch, 1, 1, length] for encoders (BERT): 0 on tokens, the lowest value on padding.</summary>
    public static Tensor Padding(Tensor attentionMask, ScalarType dtype)
    {
        using var scope = NewDisposeScope();
        Tensor pad = attentionMask.eq(0).unsqueeze(1).unsqueeze(1);
        return zeros(pad.shape, dtype, attentionMask.device).masked_fill(pad, Lowest(dtype)).MoveToOuterDisposeScope();
    }

    /// <summary>The most negative finite value of <paramref name="dtype"/> (what <c>transformers</c> uses instead of -inf).</summary>
    public static double Lowest(ScalarType dtype) => dtype switch
    {
        ScalarType.Float16 => -65504.0,
        ScalarType.BFloat16 => -3.3895313892515355e38,
        ScalarType.Float64 => double.MinValue,
        _ => float.MinValue,
    };
}
