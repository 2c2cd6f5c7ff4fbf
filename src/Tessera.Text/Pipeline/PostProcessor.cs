using System.Text.Json.Nodes;
using Tessera.Formats;

namespace Tessera.Text.Pipeline;

/// <summary>
/// The <c>post_processor</c> of tokenizer.json reduced to what single-sequence encoding needs: the special tokens
/// to put before and after the sequence (TemplateProcessing's <c>single</c>, BertProcessing, RobertaProcessing).
/// ByteLevel post-processing only trims offsets, which do not change ids.
/// </summary>
internal sealed class PostProcessor(IReadOnlyList<(int Id, string Token)> before, IReadOnlyList<(int Id, string Token)> after)
{
    /// <summary>Tokens added before the sequence.</summary>
    public IReadOnlyList<(int Id, string Token)> Before { get; } = before;

    /// <summary>Tokens added after the sequence.</summary>
    public IReadOnlyList<(int Id, string Token)> After { get; } = after;

    /// <summary>The processor that adds nothing.</summary>
    public static PostProcessor None { get; } = new([], []);

    /// <summary>Reads the <c>post_processor</c> object of tokenizer.json.</summary>
    public static PostProcessor FromJson(JsonNode? node, string path)
    {
        if (node is null) return None;
        string type = JsonHelpers.Type(node, path, "post_processor");
        switch (type)
        {
            case "ByteLevel":
                return None;
            case "Sequence":
                var before = new List<(int, string)>();
                var after = new List<(int, string)>();
                foreach (JsonNode? p in JsonHelpers.Array(node, "processors", path, "Sequence post_processor"))
                {
                    PostProcessor part = FromJson(p, path);
                    before.AddRange(part.Before);
                    after.AddRange(part.After);
                }
                return new PostProcessor(before, after);
            case "BertProcessing":
            case "RobertaProcessing":
                return new PostProcessor([Pair(node["cls"], path)], [Pair(node["sep"], path)]);
            case "TemplateProcessing":
                return Template(node, path);
            default:
                throw JsonHelpers.Unsupported(path, "post_processor", type, "TemplateProcessing, BertProcessing, RobertaProcessing, ByteLevel, Sequence");
        }
    }

    static (int, string) Pair(JsonNode? node, string path) =>
        node is JsonArray a && a.Count == 2 ? (a[1]!.GetValue<int>(), a[0]!.GetValue<string>())
            : throw new TesseraFormatException(path, "post_processor cls/sep must be [token, id]");

    static PostProcessor Template(JsonNode node, string path)
    {
        var specials = new Dictionary<string, List<(int, string)>>(StringComparer.Ordinal);
        if (node["special_tokens"] is JsonObject map)
            foreach (var (name, value) in map)
            {
                var ids = value?["ids"]?.AsArray().Select(x => x!.GetValue<int>()).ToList() ?? [];
                var tokens = value?["tokens"]?.AsArray().Select(x => x!.GetValue<string>()).ToList() ?? [];
                specials[name] = [.. ids.Select((id, i) => (id, i < tokens.Count ? tokens[i] : name))];
            }
        var before = new List<(int, string)>();
        var after = new List<(int, string)>();
        bool seenSequence = false;
        foreach (JsonNode? piece in node["single"]?.AsArray() ?? [])
        {
            if (piece?["Sequence"] is not null) { seenSequence = true; continue; }
            string id = piece?["SpecialToken"]?["id"]?.GetValue<string>()
                ?? throw new TesseraFormatException(path, "post_processor.single entries must be Sequence or SpecialToken");
            if (!specials.TryGetValue(id, out var tokens))
                throw new TesseraFormatException(path, $"post_processor.single uses special token '{id}' missing from special_tokens");
            (seenSequence ? after : before).AddRange(tokens);
        }
        return new PostProcessor(before, after);
    }
}
