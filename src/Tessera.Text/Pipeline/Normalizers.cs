using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Tessera.Formats;

namespace Tessera.Text.Pipeline;

/// <summary>A tokenizer.json normalizer: rewrites text before it is split, keeping the alignment to the input.</summary>
internal abstract class Normalizer
{
    /// <summary>The normalized form of <paramref name="text"/>.</summary>
    public abstract NormalizedText Normalize(NormalizedText text);

    const string Supported = "Sequence, NFC, NFD, NFKC, NFKD, Lowercase, StripAccents, BertNormalizer, Replace, Prepend, Strip";

    /// <summary>Reads the <c>normalizer</c> object of tokenizer.json; null for none.</summary>
    public static Normalizer? FromJson(JsonNode? node, string path)
    {
        if (node is null) return null;
        string type = JsonHelpers.Type(node, path, "normalizer");
        return type switch
        {
            "Sequence" => new SequenceNormalizer([.. JsonHelpers.Array(node, "normalizers", path, "Sequence normalizer").Select(n => FromJson(n, path)!)]),
            "NFC" => new UnicodeNormalizer(NormalizationForm.FormC),
            "NFD" => new UnicodeNormalizer(NormalizationForm.FormD),
            "NFKC" => new UnicodeNormalizer(NormalizationForm.FormKC),
            "NFKD" => new UnicodeNormalizer(NormalizationForm.FormKD),
            "Lowercase" => new LowercaseNormalizer(),
            "StripAccents" => new StripAccentsNormalizer(),
            "BertNormalizer" => new BertNormalizer(
                JsonHelpers.Bool(node, "clean_text", true), JsonHelpers.Bool(node, "handle_chinese_chars", true),
                JsonHelpers.NullableBool(node, "strip_accents"), JsonHelpers.Bool(node, "lowercase", true)),
            "Replace" => ReplaceNormalizer.Create(JsonHelpers.Pattern(node["pattern"], path, "Replace normalizer"), JsonHelpers.Str(node, "content") ?? "", path),
            "Prepend" => new PrependNormalizer(JsonHelpers.Str(node, "prepend") ?? ""),
            "Strip" => new StripNormalizer(JsonHelpers.Bool(node, "strip_left", true), JsonHelpers.Bool(node, "strip_right", true)),
            _ => throw JsonHelpers.Unsupported(path, "normalizer", type, Supported),
        };
    }
}

internal sealed class SequenceNormalizer(Normalizer[] parts) : Normalizer
{
    public override NormalizedText Normalize(NormalizedText text)
    {
        foreach (Normalizer n in parts) text = n.Normalize(text);
        return text;
    }
}

/// <summary>NFC/NFD/NFKC/NFKD. Normalizes run by run (a starter and its combining marks) so alignment stays local.</summary>
internal sealed class UnicodeNormalizer(NormalizationForm form) : Normalizer
{
    public override NormalizedText Normalize(NormalizedText text)
    {
        if (text.Text.IsNormalized(form)) return text;
        var builder = new NormalizedText.Builder();
        int runStart = 0;
        for (int i = 1; i <= text.Text.Length; i++)
        {
            if (i < text.Text.Length && !IsRunStart(text.Text, i)) continue;
            builder.Append(text.Text[runStart..i].Normalize(form), text.Align[runStart]);
            runStart = i;
        }
        return builder.Build(text.Align[^1]);
    }

    static bool IsRunStart(string s, int i)
    {
        if (char.IsLowSurrogate(s[i])) return false;
        UnicodeCategory c = CharUnicodeInfo.GetUnicodeCategory(s, i);
        // Hangul jamo compose with their neighbours, so they stay in the run too.
        bool jamo = s[i] >= '\u1100' && s[i] <= '\u11FF';
        return c is not (UnicodeCategory.NonSpacingMark or UnicodeCategory.SpacingCombiningMark or UnicodeCategory.EnclosingMark) && !jamo;
    }
}

internal sealed class LowercaseNormalizer : Normalizer
{
    public override NormalizedText Normalize(NormalizedText text) =>
        text.Map(r => Rune.ToLowerInvariant(r) is var lower && lower != r ? lower.ToString() : null);
}

/// <summary>Removes nonspacing marks (category Mn); accents come apart only after NFD, as in HF.</summary>
internal sealed class StripAccentsNormalizer : Normalizer
{
    public override NormalizedText Normalize(NormalizedText text) =>
        text.Map(r => Rune.GetUnicodeCategory(r) == UnicodeCategory.NonSpacingMark ? "" : null);
}

/// <summary>BERT's normalizer: clean control characters, space out CJK ideographs, strip accents, lowercase.</summary>
internal sealed class BertNormalizer(bool cleanText, bool handleChinese, bool? stripAccents, bool lowercase) : Normalizer
{
    public override NormalizedText Normalize(NormalizedText text)
    {
        if (cleanText)
            text = text.Map(r => r.Value == 0 || r.Value == 0xFFFD || IsControl(r) ? "" : Characters.IsWhitespace(r) ? " " : null);
        if (handleChinese)
            text = text.Map(r => Characters.IsCjk(r.Value) ? $" {r} " : null);
        if (stripAccents ?? lowercase)
        {
            text = new UnicodeNormalizer(NormalizationForm.FormD).Normalize(text);
            text = new StripAccentsNormalizer().Normalize(text);
        }
        if (lowercase) text = new LowercaseNormalizer().Normalize(text);
        return text;
    }

    static bool IsControl(Rune r)
    {
        if (r.Value is '\t' or '\n' or '\r') return false;
        return Rune.GetUnicodeCategory(r) is UnicodeCategory.Control or UnicodeCategory.Format
            or UnicodeCategory.OtherNotAssigned or UnicodeCategory.PrivateUse or UnicodeCategory.Surrogate;
    }
}

internal sealed class ReplaceNormalizer(FileRegex pattern, string content) : Normalizer
{
    public static ReplaceNormalizer Create((string Pattern, bool IsRegex) p, string content, string path) =>
        new(FileRegex.Create(p.IsRegex ? p.Pattern : Regex.Escape(p.Pattern), path, "Replace normalizer pattern"), content);

    public override NormalizedText Normalize(NormalizedText text)
    {
        var builder = new NormalizedText.Builder();
        int last = 0;
        foreach (Match m in pattern.Matches(text.Text))
        {
            if (m.Length == 0) continue;
            builder.Append(text, last, m.Index);
            builder.Append(content, text.Align[m.Index]);
            last = m.Index + m.Length;
        }
        builder.Append(text, last, text.Text.Length);
        return builder.Build(text.Align[^1]);
    }
}

/// <summary>Prepends a string to non-empty text (Llama 2's <c>▁</c>).</summary>
internal sealed class PrependNormalizer(string prefix) : Normalizer
{
    public override NormalizedText Normalize(NormalizedText text)
    {
        if (text.Text.Length == 0) return text;
        var builder = new NormalizedText.Builder();
        builder.Append(prefix, text.Align[0]);
        builder.Append(text, 0, text.Text.Length);
        return builder.Build(text.Align[^1]);
    }
}

internal sealed class StripNormalizer(bool left, bool right) : Normalizer
{
    public override NormalizedText Normalize(NormalizedText text)
    {
        int start = 0, end = text.Text.Length;
        if (left) while (start < end && char.IsWhiteSpace(text.Text[start])) start++;
        if (right) while (end > start && char.IsWhiteSpace(text.Text[end - 1])) end--;
        return text.Slice(start, end);
    }
}
