using System.Text;
using System.Text.Json.Nodes;

namespace Tessera.Text.Pipeline;

/// <summary>
/// A tokenizer.json decoder. As in HF tokenizers, each decoder maps the list of token strings to a new list
/// (a "decode chain"); the final text is their concatenation.
/// </summary>
internal abstract class Decoder
{
    /// <summary>Transforms the token strings.</summary>
    public abstract List<string> DecodeChain(List<string> tokens);

    const string Supported = "Sequence, ByteLevel, Metaspace, Replace, ByteFallback, Fuse, Strip, WordPiece, BPEDecoder";

    /// <summary>Reads the <c>decoder</c> object of tokenizer.json; null for none (tokens are concatenated).</summary>
    public static Decoder? FromJson(JsonNode? node, string path)
    {
        if (node is null) return null;
        string type = JsonHelpers.Type(node, path, "decoder");
        return type switch
        {
            "Sequence" => new SequenceDecoder([.. JsonHelpers.Array(node, "decoders", path, "Sequence decoder").Select(n => FromJson(n, path)!)]),
            "ByteLevel" => new ByteLevelDecoder(),
            "Metaspace" => new MetaspaceDecoder(JsonHelpers.Str(node, "replacement") ?? "\u2581",
                (JsonHelpers.Str(node, "prepend_scheme") ?? (JsonHelpers.Bool(node, "add_prefix_space", true) ? "always" : "never")) != "never"),
            "Replace" => new ReplaceDecoder(JsonHelpers.Pattern(node["pattern"], path, "Replace decoder"), JsonHelpers.Str(node, "content") ?? "", path),
            "ByteFallback" => new ByteFallbackDecoder(),
            "Fuse" => new FuseDecoder(),
            "Strip" => new StripDecoder(JsonHelpers.Str(node, "content") ?? " ", JsonHelpers.Int(node, "start", 0), JsonHelpers.Int(node, "stop", 0)),
            "WordPiece" => new WordPieceDecoder(JsonHelpers.Str(node, "prefix") ?? "##", JsonHelpers.Bool(node, "cleanup", true)),
            "BPEDecoder" => new BpeSuffixDecoder(JsonHelpers.Str(node, "suffix") ?? "</w>"),
            _ => throw JsonHelpers.Unsupported(path, "decoder", type, Supported),
        };
    }

    /// <summary>HF's <c>clean_up_tokenization</c>: removes the spaces a word-level decoder put before punctuation.</summary>
    public static string CleanUp(string s) => s
        .Replace(" .", ".").Replace(" ?", "?").Replace(" !", "!").Replace(" ,", ",").Replace(" ' ", "'")
        .Replace(" n't", "n't").Replace(" 'm", "'m").Replace(" 's", "'s").Replace(" 've", "'ve").Replace(" 're", "'re");
}

internal sealed class SequenceDecoder(Decoder[] parts) : Decoder
{
    public override List<string> DecodeChain(List<string> tokens)
    {
        foreach (Decoder d in parts) tokens = d.DecodeChain(tokens);
        return tokens;
    }
}

/// <summary>Maps alphabet characters back to bytes and decodes UTF-8 (invalid sequences become U+FFFD).</summary>
internal sealed class ByteLevelDecoder : Decoder
{
    public override List<string> DecodeChain(List<string> tokens)
    {
        var bytes = new List<byte>();
        foreach (string t in tokens)
            if (!ByteLevelAlphabet.TryAppendBytes(t, bytes)) bytes.AddRange(Encoding.UTF8.GetBytes(t));
        return [Encoding.UTF8.GetString([.. bytes])];
    }
}

internal sealed class MetaspaceDecoder(string replacement, bool stripLeadingSpace) : Decoder
{
    public override List<string> DecodeChain(List<string> tokens)
    {
        var output = new List<string>(tokens.Count);
        for (int i = 0; i < tokens.Count; i++)
        {
            string s = tokens[i].Replace(replacement, " ");
            if (i == 0 && stripLeadingSpace && s.StartsWith(' ')) s = s[1..];
            output.Add(s);
        }
        return output;
    }
}

internal sealed class ReplaceDecoder((string Pattern, bool IsRegex) pattern, string content, string path) : Decoder
{
    readonly Formats.FileRegex? regex = pattern.IsRegex ? Formats.FileRegex.Create(pattern.Pattern, path, "Replace decoder pattern") : null;

    public override List<string> DecodeChain(List<string> tokens) =>
        [.. tokens.Select(t => regex is null ? t.Replace(pattern.Pattern, content, StringComparison.Ordinal) : regex.Replace(t, content))];
}

/// <summary>Turns runs of <c>&lt;0xNN&gt;</c> tokens back into UTF-8 text; invalid bytes become one U+FFFD each.</summary>
internal sealed class ByteFallbackDecoder : Decoder
{
    public override List<string> DecodeChain(List<string> tokens)
    {
        var output = new List<string>(tokens.Count);
        var pending = new List<byte>();
        void Flush()
        {
            if (pending.Count == 0) return;
            try { output.Add(new UTF8Encoding(false, throwOnInvalidBytes: true).GetString([.. pending])); }
            catch (DecoderFallbackException) { for (int k = 0; k < pending.Count; k++) output.Add("\uFFFD"); }
            pending.Clear();
        }
        foreach (string t in tokens)
        {
            if (TryParseByte(t, out byte b)) { pending.Add(b); continue; }
            Flush();
            output.Add(t);
        }
        Flush();
        return output;
    }

    /// <summary>Whether <paramref name="token"/> is a byte-fallback token <c>&lt;0xNN&gt;</c>.</summary>
    public static bool TryParseByte(string token, out byte value)
    {
        value = 0;
        return token.Length == 6 && token.StartsWith("<0x", StringComparison.Ordinal) && token[5] == '>'
            && byte.TryParse(token.AsSpan(3, 2), System.Globalization.NumberStyles.HexNumber, null, out value);
    }
}

internal sealed class FuseDecoder : Decoder
{
    public override List<string> DecodeChain(List<string> tokens) => [string.Concat(tokens)];
}

/// <summary>Removes up to <c>start</c> leading and <c>stop</c> trailing copies of a character from every token.</summary>
internal sealed class StripDecoder(string content, int start, int stop) : Decoder
{
    public override List<string> DecodeChain(List<string> tokens)
    {
        char c = content.Length > 0 ? content[0] : ' ';
        var output = new List<string>(tokens.Count);
        foreach (string t in tokens)
        {
            int s = 0, e = t.Length;
            for (int k = 0; k < start && s < e && t[s] == c; k++) s++;
            for (int k = 0; k < stop && e > s && t[e - 1] == c; k++) e--;
            output.Add(t[s..e]);
        }
        return output;
    }
}

internal sealed class WordPieceDecoder(string prefix, bool cleanup) : Decoder
{
    public override List<string> DecodeChain(List<string> tokens)
    {
        var output = new List<string>(tokens.Count);
        for (int i = 0; i < tokens.Count; i++)
        {
            string t = tokens[i];
            if (i > 0) t = t.StartsWith(prefix, StringComparison.Ordinal) ? t[prefix.Length..] : " " + t;
            output.Add(cleanup ? CleanUp(t) : t);
        }
        return output;
    }
}

internal sealed class BpeSuffixDecoder(string suffix) : Decoder
{
    public override List<string> DecodeChain(List<string> tokens) =>
        [.. tokens.Select((t, i) => t.Replace(suffix, i == tokens.Count - 1 ? "" : " ", StringComparison.Ordinal))];
}
