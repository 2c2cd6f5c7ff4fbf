using System.Text;

namespace Tessera.Text.Pipeline;

/// <summary>
/// Cuts raw text at added tokens, leftmost match first and the longest token at a position, honouring
/// <c>lstrip</c>/<c>rstrip</c> (the match swallows neighbouring whitespace) and <c>single_word</c>.
/// </summary>
internal sealed class AddedTokenSplitter
{
    readonly Dictionary<char, AddedToken[]> byFirstChar;

    public AddedTokenSplitter(IEnumerable<AddedToken> tokens) =>
        byFirstChar = tokens.Where(t => t.Content.Length > 0)
            .GroupBy(t => t.Content[0])
            .ToDictionary(g => g.Key, g => g.OrderByDescending(t => t.Content.Length).ToArray());

    /// <summary>The segments of <paramref name="text"/>: (start, end, token) where token is null for ordinary text.</summary>
    public List<(int Start, int End, AddedToken? Token)> Split(string text)
    {
        var segments = new List<(int, int, AddedToken?)>();
        int plainStart = 0, i = 0;
        while (i < text.Length)
        {
            AddedToken? hit = null;
            if (byFirstChar.TryGetValue(text[i], out AddedToken[]? candidates))
                foreach (AddedToken t in candidates)
                    if (string.CompareOrdinal(text, i, t.Content, 0, t.Content.Length) == 0 && (!t.SingleWord || IsWordBoundary(text, i, i + t.Content.Length)))
                    {
                        hit = t;
                        break;
                    }
            if (hit is null) { i++; continue; }
            int start = i, end = i + hit.Content.Length;
            if (hit.LStrip) while (start > plainStart && char.IsWhiteSpace(text[start - 1])) start--;
            if (hit.RStrip) while (end < text.Length && char.IsWhiteSpace(text[end])) end++;
            if (start > plainStart) segments.Add((plainStart, start, null));
            segments.Add((start, end, hit));
            plainStart = i = end;
        }
        if (plainStart < text.Length) segments.Add((plainStart, text.Length, null));
        return segments;
    }

    static bool IsWordBoundary(string text, int start, int end)
    {
        bool before = start > 0 && IsWordChar(text, start - 1);
        bool after = end < text.Length && IsWordChar(text, end);
        return !before && !after;
    }

    static bool IsWordChar(string s, int i) => Rune.TryGetRuneAt(s, i, out Rune r) ? Rune.IsLetterOrDigit(r) || r.Value == '_' : char.IsLetterOrDigit(s[i]);
}
