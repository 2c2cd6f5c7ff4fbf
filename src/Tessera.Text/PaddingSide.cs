namespace Tessera.Text;

/// <summary>Which end of a row padding (or truncation) applies to; decoders generate with left padding.</summary>
public enum PaddingSide
{
    /// <summary>Pad at the end (HF's default for encoders).</summary>
    Right,

    /// <summary>Pad at the start, so that the last real token of every row is aligned (batched generation).</summary>
    Left,
}
