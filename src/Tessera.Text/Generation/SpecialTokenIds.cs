namespace Tessera.Text.Generation;

/// <summary>The end-of-sequence, beginning-of-sequence and padding ids a model's config names.</summary>
/// <param name="EosTokenIds">Ids that end a sequence; empty when the config names none.</param>
/// <param name="BosTokenId">The beginning-of-sequence id, or null.</param>
/// <param name="PadTokenId">The padding id, or null.</param>
public sealed record SpecialTokenIds(IReadOnlyList<int> EosTokenIds, int? BosTokenId = null, int? PadTokenId = null)
{
    /// <summary>No special ids.</summary>
    public static SpecialTokenIds None { get; } = new([]);
}
