namespace Tessera.Text;

/// <summary>How <see cref="HfTokenizer.EncodeBatch"/> pads its rows (HF's <c>padding=</c>).</summary>
public enum PaddingStrategy
{
    /// <summary>No padding: rows keep their own lengths.</summary>
    None,

    /// <summary>Pad every row to the longest row of the batch.</summary>
    Longest,

    /// <summary>Pad every row to the requested maximum length (or the tokenizer's <c>model_max_length</c>).</summary>
    MaxLength,
}
