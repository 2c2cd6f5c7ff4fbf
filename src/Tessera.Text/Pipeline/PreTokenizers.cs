using System.Text;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Tessera.Formats;

namespace Tessera.Text.Pipeline;

/// <summary>A tokenizer.json pre-tokenizer: splits normalized text into the words the model sees.</summary>
internal abstract class PreTokenizer
{
    /// <summary>Appends the pieces of <paramref name="text"/> to <paramref name="output"/>.</summary>
    public abstract void Split(NormalizedText text, List<NormalizedText> output);

    /// <summary>Applies the pre-tokenizer to every piece of <paramref name="pieces"/>.</summary>
    public List<NormalizedText> SplitAll(List<NormalizedText> pieces)
    {
        var output = new List<NormalizedText>(pieces.Count * 2);
        foreach (NormalizedText p in pieces) Split(p, output);
        return output;
    }

    const string Supported = "Sequence, ByteLevel, Split, Metaspace, BertPreTokenizer, Whitespace, WhitespaceSplit, Digits, Punctuation";

    /// <summary>Reads the <c>pre_tokenizer</c> object of tokenizer.json; null for none.</summary>
    public static PreTokenizer? FromJson(JsonNode? node, string path)
    {
        if (node is null) return null;
        string type = JsonHelpers.Type(node, path, "pre_tokenizer");
        return type switch
        {
            "Sequence" => new SequencePreTokenizer([.. JsonHelpers.Array(node, "pretokenizers", path, "Sequence pre_tokenizer").Select(n => FromJson(n, path)!)]),
            "ByteLevel" => new ByteLevelPreTokenizer(JsonHelpers.Bool(node, "add_prefix_space", true), JsonHelpers.Bool(node, "use_regex", true)),
            "Split" => new SplitPreTokenizer(
                CompileSplitPattern(JsonHelpers.Pattern(node["pattern"], path, "Split pre_tokenizer"), path),
                ParseBehavior(JsonHelpers.Str(node, "behavior") ?? "Isolated", path), JsonHelpers.Bool(node, "invert", false)),
            "Metaspace" => new MetaspacePreTokenizer(
                JsonHelpers.Str(node, "replacement") ?? "\u2581",
                JsonHelpers.Str(node, "prepend_scheme") ?? (JsonHelpers.Bool(node, "add_prefix_space", true) ? "always" : "never"),
                JsonHelpers.Bool(node, "split", true)),
            "BertPreTokenizer" => new BertPreTokenizer(),
            "Whitespace" => new SplitPreTokenizer(CompileSplitPattern((@"\w+|[^\w\s]+", true), path), SplitBehavior.Removed, invert: true),
            "WhitespaceSplit" => new SplitPreTokenizer(CompileSplitPattern((@"\s+", true), path), SplitBehavior.Removed, invert: false),
            "Digits" => JsonHelpers.Bool(node, "individual_digits", false)
                ? new SplitPreTokenizer(CompileSplitPattern((@"\p{Nd}", true), path), SplitBehavior.Isolated, false)
                : new SplitPreTokenizer(CompileSplitPattern((@"\p{Nd}+", true), path), SplitBehavior.Isolated, false),
            "Punctuation" => new BertPunctuationPreTokenizer(ParseBehavior(JsonHelpers.Str(node, "behavior") ?? "Isolated", path)),
            _ => throw JsonHelpers.Unsupported(path, "pre_tokenizer", type, Supported),
        };
    }

    /// <summary>
    /// The Split pattern as a .NET regex. tokenizer.json regexes are written for Rust's onig/fancy-regex; the ones in use
    /// (GPT-2, Llama 3, Qwen2: classes, \p{..}, (?i:..), lookahead) mean the same in .NET. Syntax .NET lacks, such as
    /// possessive quantifiers (<c>?+</c>, <c>++</c>), is reported rather than guessed at.
    /// </summary>
    static FileRegex CompileSplitPattern((string Pattern, bool IsRegex) pattern, string path) =>
        FileRegex.Create(pattern.IsRegex ? pattern.Pattern : Regex.Escape(pattern.Pattern), path, "Split pre_tokenizer pattern",
            RegexOptions.CultureInvariant | RegexOptions.Compiled);

    static SplitBehavior ParseBehavior(string s, string path) => s switch
    {
        "Removed" => SplitBehavior.Removed,
        "Isolated" => SplitBehavior.Isolated,
        "MergedWithPrevious" => SplitBehavior.MergedWithPrevious,
        "MergedWithNext" => SplitBehavior.MergedWithNext,
        "Contiguous" => SplitBehavior.Contiguous,
        _ => throw new Formats.TesseraFormatException(path, $"unknown split behavior '{s}'"),
    };

    /// <summary>
    /// Cuts <paramref name="text"/> into <paramref name="spans"/>, treating the delimiter spans
    /// as <paramref name="behavior"/> says (HF's <c>SplitDelimiterBehavior</c>).
    /// </summary>
    protected static void SplitSpans(NormalizedText text, List<(int Start, int End, bool Delimiter)> spans, SplitBehavior behavior, List<NormalizedText> output)
    {
        var pieces = new List<(int Start, int End)>();
        switch (behavior)
        {
            case SplitBehavior.Removed:
                foreach (var s in spans) if (!s.Delimiter) pieces.Add((s.Start, s.End));
                break;
            case SplitBehavior.Isolated:
                foreach (var s in spans) pieces.Add((s.Start, s.End));
                break;
            case SplitBehavior.Contiguous:
                for (int i = 0; i < spans.Count; i++)
                {
                    if (spans[i].Delimiter && pieces.Count > 0 && i > 0 && spans[i - 1].Delimiter)
                        pieces[^1] = (pieces[^1].Start, spans[i].End);
                    else pieces.Add((spans[i].Start, spans[i].End));
                }
                break;
            case SplitBehavior.MergedWithPrevious:
                for (int i = 0; i < spans.Count; i++)
                {
                    if (spans[i].Delimiter && pieces.Count > 0 && !spans[i - 1].Delimiter)
                        pieces[^1] = (pieces[^1].Start, spans[i].End);
                    else pieces.Add((spans[i].Start, spans[i].End));
                }
                break;
            case SplitBehavior.MergedWithNext:
                for (int i = 0; i < spans.Count; i++)
                {
                    if (!spans[i].Delimiter && i > 0 && spans[i - 1].Delimiter)
                        pieces[^1] = (pieces[^1].Start, spans[i].End);
                    else pieces.Add((spans[i].Start, spans[i].End));
                }
                break;
        }
        foreach (var (start, end) in pieces)
            if (end > start) output.Add(text.Slice(start, end));
    }

    /// <summary>Spans of <paramref name="text"/>: the regex matches (delimiters) and the gaps between them.</summary>
    protected static List<(int Start, int End, bool Delimiter)> RegexSpans(FileRegex regex, string text, bool invert)
    {
        // .NET matches UTF-16 units, so \p{L} or \p{N} never match a character outside the BMP (𝐀, 𝟙, 𠀀: a surrogate
        // pair, category Cs per half), while tokenizers' Rust regexes match code points. Such text is matched on a proxy
        // with one BMP character of the same Unicode category per code point, and the spans are mapped back.
        int[]? offsets = null;
        string subject = text;
        if (text.AsSpan().IndexOfAnyInRange('\uD800', '\uDFFF') >= 0) (subject, offsets) = CategoryProxy.Build(text);
        var spans = new List<(int, int, bool)>();
        int last = 0;
        foreach (Match m in regex.Matches(subject))
        {
            if (m.Length == 0) continue;
            int start = offsets?[m.Index] ?? m.Index, end = offsets?[m.Index + m.Length] ?? m.Index + m.Length;
            if (start > last) spans.Add((last, start, invert));
            spans.Add((start, end, !invert));
            last = end;
        }
        if (last < text.Length) spans.Add((last, text.Length, invert));
        return spans;
    }
}

/// <summary>A stand-in text for regex matching: one UTF-16 unit per code point, supplementary characters replaced by a BMP character of the same Unicode category.</summary>
internal static class CategoryProxy
{
    // For each UnicodeCategory, a BMP character of that category outside ASCII and Latin-1 (so it never equals a
    // literal in a pre-tokenizer pattern such as 's or \r); a surrogate half stays as it is.
    static readonly char[] Stand = BuildStandIns();

    static char[] BuildStandIns()
    {
        var stand = new char[32];
        for (int c = 0x0370; c < 0xFFFE; c++)
        {
            if (c is >= 0xD800 and <= 0xDFFF) continue;
            int category = (int)char.GetUnicodeCategory((char)c);
            if (stand[category] == '\0') stand[category] = (char)c;
        }
        for (int c = 0x00A0; c < 0x0370; c++) // categories only Latin-1 has (rare): take them from there
        {
            int category = (int)char.GetUnicodeCategory((char)c);
            if (stand[category] == '\0') stand[category] = (char)c;
        }
        return stand;
    }

    /// <summary>The proxy and, for each proxy index (and its end), the offset in <paramref name="text"/>.</summary>
    public static (string Proxy, int[] Offsets) Build(string text)
    {
        var proxy = new System.Text.StringBuilder(text.Length);
        var offsets = new List<int>(text.Length + 1);
        for (int i = 0; i < text.Length; i++)
        {
            offsets.Add(i);
            if (char.IsHighSurrogate(text[i]) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]))
            {
                var category = System.Globalization.CharUnicodeInfo.GetUnicodeCategory(char.ConvertToUtf32(text[i], text[i + 1]));
                char stand = Stand[(int)category];
                proxy.Append(stand == '\0' ? text[i] : stand);
                i++;
            }
            else proxy.Append(text[i]);
        }
        offsets.Add(text.Length);
        return (proxy.ToString(), [.. offsets]);
    }
}

/// <summary>How a split treats the delimiters it finds (HF's <c>SplitDelimiterBehavior</c>).</summary>
internal enum SplitBehavior { Removed, Isolated, MergedWithPrevious, MergedWithNext, Contiguous }

internal sealed class SequencePreTokenizer(PreTokenizer[] parts) : PreTokenizer
{
    public override void Split(NormalizedText text, List<NormalizedText> output)
    {
        var pieces = new List<NormalizedText> { text };
        foreach (PreTokenizer p in parts) pieces = p.SplitAll(pieces);
        output.AddRange(pieces);
    }
}

internal sealed class SplitPreTokenizer(FileRegex regex, SplitBehavior behavior, bool invert) : PreTokenizer
{
    public override void Split(NormalizedText text, List<NormalizedText> output) =>
        SplitSpans(text, RegexSpans(regex, text.Text, invert), behavior, output);
}

/// <summary>
/// GPT-2's byte-level pre-tokenizer: optional leading space, the GPT-2 split regex, then every UTF-8 byte as one
/// character of <see cref="ByteLevelAlphabet"/>.
/// </summary>
internal sealed class ByteLevelPreTokenizer(bool addPrefixSpace, bool useRegex) : PreTokenizer
{
    /// <summary>GPT-2's split pattern (a fact of the format, from the GPT-2 paper's released encoder).</summary>
    internal static readonly FileRegex Gpt2Pattern = FileRegex.Create(
        @"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+", null, "ByteLevel pre_tokenizer pattern",
        RegexOptions.CultureInvariant | RegexOptions.Compiled);

    public override void Split(NormalizedText text, List<NormalizedText> output)
    {
        if (addPrefixSpace && !text.Text.StartsWith(' '))
        {
            var b = new NormalizedText.Builder();
            b.Append(" ", text.Align[0]);
            b.Append(text, 0, text.Text.Length);
            text = b.Build(text.Align[^1]);
        }
        var pieces = new List<NormalizedText>();
        if (useRegex) SplitSpans(text, RegexSpans(Gpt2Pattern, text.Text, false), SplitBehavior.Isolated, pieces);
        else pieces.Add(text);
        foreach (NormalizedText p in pieces) output.Add(ToBytes(p));
    }

    /// <summary>The piece rewritten as one alphabet character per UTF-8 byte.</summary>
    public static NormalizedText ToBytes(NormalizedText text)
    {
        var builder = new NormalizedText.Builder();
        Span<byte> buffer = stackalloc byte[4];
        int i = 0;
        while (i < text.Text.Length)
        {
            Rune.DecodeFromUtf16(text.Text.AsSpan(i), out Rune rune, out int used);
            int n = rune.EncodeToUtf8(buffer);
            for (int k = 0; k < n; k++) builder.Append(ByteLevelAlphabet.ByteToChar[buffer[k]].ToString(), text.Align[i]);
            i += used;
        }
        return builder.Build(text.Align[^1]);
    }
}

/// <summary>SentencePiece-style spaces: ' ' becomes '▁', a '▁' is prepended, words split before each '▁'.</summary>
internal sealed class MetaspacePreTokenizer(string replacement, string prependScheme, bool split) : PreTokenizer
{
    static readonly FileRegex Space = FileRegex.Create(" ", null, "Metaspace");

    public override void Split(NormalizedText text, List<NormalizedText> output)
    {
        text = new ReplaceNormalizer(Space, replacement).Normalize(text);
        bool prepend = prependScheme switch
        {
            "always" => true,
            "first" => text.OriginalStart == 0,
            _ => false,
        };
        if (prepend && !text.Text.StartsWith(replacement, StringComparison.Ordinal)) text = new PrependNormalizer(replacement).Normalize(text);
        if (!split)
        {
            output.Add(text);
            return;
        }
        var spans = RegexSpans(FileRegex.Create(Regex.Escape(replacement), null, "Metaspace replacement"), text.Text, false);
        SplitSpans(text, spans, SplitBehavior.MergedWithNext, output);
    }
}

/// <summary>BERT's pre-tokenizer: whitespace removed, each punctuation character its own word.</summary>
internal sealed class BertPreTokenizer : PreTokenizer
{
    public override void Split(NormalizedText text, List<NormalizedText> output)
    {
        var spans = new List<(int, int, bool)>();
        int wordStart = -1, i = 0;
        while (i < text.Text.Length)
        {
            Rune.DecodeFromUtf16(text.Text.AsSpan(i), out Rune r, out int used);
            bool space = Characters.IsWhitespace(r), punct = !space && Characters.IsBertPunctuation(r);
            if (space || punct)
            {
                if (wordStart >= 0) spans.Add((wordStart, i, false));
                wordStart = -1;
                if (punct) spans.Add((i, i + used, false));
            }
            else if (wordStart < 0) wordStart = i;
            i += used;
        }
        if (wordStart >= 0) spans.Add((wordStart, text.Text.Length, false));
        SplitSpans(text, spans, SplitBehavior.Isolated, output);
    }
}

internal sealed class BertPunctuationPreTokenizer(SplitBehavior behavior) : PreTokenizer
{
    public override void Split(NormalizedText text, List<NormalizedText> output)
    {
        var spans = new List<(int, int, bool)>();
        int i = 0, gap = 0;
        while (i < text.Text.Length)
        {
            Rune.DecodeFromUtf16(text.Text.AsSpan(i), out Rune r, out int used);
            if (Characters.IsBertPunctuation(r))
            {
                if (i > gap) spans.Add((gap, i, false));
                spans.Add((i, i + used, true));
                gap = i + used;
            }
            i += used;
        }
        if (gap < text.Text.Length) spans.Add((gap, text.Text.Length, false));
        SplitSpans(text, spans, behavior, output);
    }
}
