namespace Tessera.Text;

/// <summary>A padded batch of encodings: int64 ids and attention masks, one row per input text.</summary>
/// <param name="InputIds">Token ids, [batch][time]; padded positions hold the pad id.</param>
/// <param name="AttentionMask">1 for real tokens, 0 for padding, [batch][time].</param>
public sealed record BatchEncoding(long[][] InputIds, long[][] AttentionMask)
{
    /// <summary>The number of rows.</summary>
    public int BatchSize => InputIds.Length;

    /// <summary>The length of the longest row (all rows when padded).</summary>
    public int SequenceLength => InputIds.Length == 0 ? 0 : InputIds.Max(r => r.Length);

    /// <summary>The ids row-major as one array of <see cref="BatchSize"/> x <see cref="SequenceLength"/>, ready for a tensor.</summary>
    /// <exception cref="InvalidOperationException">The rows have different lengths (the batch was not padded).</exception>
    public long[] FlattenInputIds() => Flatten(InputIds);

    /// <summary>The attention mask row-major, like <see cref="FlattenInputIds"/>.</summary>
    /// <exception cref="InvalidOperationException">The rows have different lengths (the batch was not padded).</exception>
    public long[] FlattenAttentionMask() => Flatten(AttentionMask);

    long[] Flatten(long[][] rows)
    {
        int t = SequenceLength;
        if (rows.Any(r => r.Length != t)) throw new InvalidOperationException("rows have different lengths; encode with padding to flatten");
        var flat = new long[rows.Length * t];
        for (int i = 0; i < rows.Length; i++) rows[i].CopyTo(flat, i * t);
        return flat;
    }
}
