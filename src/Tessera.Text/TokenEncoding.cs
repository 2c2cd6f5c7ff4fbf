namespace Tessera.Text;

/// <summary>One encoded text (HF's <c>Encoding</c>; named so it does not clash with <see cref="System.Text.Encoding"/>).</summary>
/// <param name="Ids">Token ids, special tokens included when they were asked for.</param>
/// <param name="Tokens">The token strings, as the vocabulary spells them.</param>
/// <param name="Offsets">For each token, the [Start, End) character range of the input it came from; (0, 0) for added template tokens.</param>
/// <param name="SpecialTokensMask">1 where the token is a special token, else 0.</param>
public sealed record TokenEncoding(IReadOnlyList<int> Ids, IReadOnlyList<string> Tokens, IReadOnlyList<(int Start, int End)> Offsets, IReadOnlyList<int> SpecialTokensMask)
{
    /// <summary>1 for every token (an unpadded encoding attends to all of them).</summary>
    public IReadOnlyList<int> AttentionMask => Enumerable.Repeat(1, Ids.Count).ToArray();

    /// <summary>The number of tokens.</summary>
    public int Count => Ids.Count;
}
