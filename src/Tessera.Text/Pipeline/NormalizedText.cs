using System.Text;

namespace Tessera.Text.Pipeline;

/// <summary>
/// A piece of text as it moves through normalizers and pre-tokenizers, with the position in the caller's original
/// string of every character, so token offsets can point back into the input.
/// </summary>
/// <param name="Text">The current text.</param>
/// <param name="Align">Original position of each character of <paramref name="Text"/>, plus one final entry: the original end.</param>
internal sealed record NormalizedText(string Text, int[] Align)
{
    /// <summary>A piece that is <paramref name="original"/>[start..end] unchanged.</summary>
    public static NormalizedText FromOriginal(string original, int start, int end)
    {
        var align = new int[end - start + 1];
        for (int i = 0; i < align.Length; i++) align[i] = start + i;
        return new NormalizedText(original[start..end], align);
    }

    /// <summary>Original position where the text starts.</summary>
    public int OriginalStart => Align[0];

    /// <summary>The sub-piece [start, end) of this piece.</summary>
    public NormalizedText Slice(int start, int end) => new(Text[start..end], Align[start..(end + 1)]);

    /// <summary>Original (start, end) of the characters [start, end) of this piece.</summary>
    public (int Start, int End) OriginalRange(int start, int end)
    {
        int s = Align[start];
        int e = end > start ? Math.Max(Align[end - 1] + 1, s) : s;
        if (end < Align.Length - 1) e = Math.Min(Math.Max(e, s), Math.Max(Align[end], s));
        return (s, Math.Max(e, s));
    }

    /// <summary>Builds a new piece rune by rune, each output string aligned to the rune it came from.</summary>
    public NormalizedText Map(Func<Rune, string?> map)
    {
        var builder = new Builder();
        int i = 0;
        while (i < Text.Length)
        {
            Rune.DecodeFromUtf16(Text.AsSpan(i), out Rune rune, out int used);
            string? replacement = map(rune);
            builder.Append(replacement ?? rune.ToString(), Align[i]);
            i += used;
        }
        return builder.Build(Align[^1]);
    }

    /// <summary>Accumulates characters with their original positions.</summary>
    internal sealed class Builder
    {
        readonly StringBuilder text = new();
        readonly List<int> align = [];

        /// <summary>Appends <paramref name="s"/>, every character aligned to <paramref name="origin"/>.</summary>
        public void Append(string s, int origin)
        {
            text.Append(s);
            for (int k = 0; k < s.Length; k++) align.Add(origin);
        }

        /// <summary>Appends the characters [start, end) of <paramref name="source"/> with their own alignment.</summary>
        public void Append(NormalizedText source, int start, int end)
        {
            text.Append(source.Text, start, end - start);
            for (int k = start; k < end; k++) align.Add(source.Align[k]);
        }

        /// <summary>The built piece; <paramref name="originalEnd"/> closes the alignment.</summary>
        public NormalizedText Build(int originalEnd)
        {
            align.Add(originalEnd);
            return new NormalizedText(text.ToString(), [.. align]);
        }
    }
}
