using System.Text.Json;
using System.Text.Json.Nodes;
using Tessera.Formats;

namespace Tessera.Text;

/// <summary>
/// The fields of HF's <c>tokenizer_config.json</c> (and <c>special_tokens_map.json</c>) that change behaviour.
/// Special tokens may be written as strings or as <c>{"content": ...}</c> objects; both are read.
/// </summary>
public sealed record TokenizerConfig
{
    /// <summary>Beginning-of-sequence token text.</summary>
    public string? BosToken { get; init; }

    /// <summary>End-of-sequence token text.</summary>
    public string? EosToken { get; init; }

    /// <summary>Padding token text.</summary>
    public string? PadToken { get; init; }

    /// <summary>Unknown token text.</summary>
    public string? UnkToken { get; init; }

    /// <summary>Whether to put the BOS token first; null leaves tokenizer.json's post-processor as it is.</summary>
    public bool? AddBosToken { get; init; }

    /// <summary>Whether to put the EOS token last; null leaves tokenizer.json's post-processor as it is.</summary>
    public bool? AddEosToken { get; init; }

    /// <summary>The longest input the model accepts; null when unknown (HF writes 1e30 for "no limit").</summary>
    public int? ModelMaxLength { get; init; }

    /// <summary>Default padding side of batches.</summary>
    public PaddingSide PaddingSide { get; init; } = PaddingSide.Right;

    /// <summary>Which end truncation cuts.</summary>
    public PaddingSide TruncationSide { get; init; } = PaddingSide.Right;

    /// <summary>Whether decoding removes spaces before punctuation (HF's <c>clean_up_tokenization_spaces</c>).</summary>
    public bool CleanUpTokenizationSpaces { get; init; }

    /// <summary>For vocab.txt (BERT) folders: lowercase and strip accents.</summary>
    public bool DoLowerCase { get; init; } = true;

    /// <summary>Extra added tokens from <c>added_tokens_decoder</c>.</summary>
    public IReadOnlyList<AddedToken> AddedTokens { get; init; } = [];

    /// <summary>Reads <c>tokenizer_config.json</c> and <c>special_tokens_map.json</c> from <paramref name="folder"/>; defaults when absent.</summary>
    /// <exception cref="TesseraFormatException">A file is not valid JSON.</exception>
    public static TokenizerConfig Load(string folder)
    {
        var config = new TokenizerConfig();
        foreach (string name in new[] { "special_tokens_map.json", "tokenizer_config.json" })
        {
            string path = Path.Combine(folder, name);
            if (!File.Exists(path)) continue;
            JsonNode? root;
            try { root = JsonNode.Parse(File.ReadAllText(path)); }
            catch (JsonException e) { throw new TesseraFormatException(path, $"not valid JSON: {e.Message}", e); }
            if (root is JsonObject obj) config = config.Merge(obj);
        }
        return config;
    }

    TokenizerConfig Merge(JsonObject o)
    {
        var added = new List<AddedToken>(AddedTokens);
        if (o["added_tokens_decoder"] is JsonObject decoder)
            foreach (var (id, t) in decoder)
                if (int.TryParse(id, out int i) && t?["content"]?.GetValue<string>() is { } content)
                    added.Add(new AddedToken(i, content, Flag(t, "special"), Flag(t, "single_word"), Flag(t, "lstrip"), Flag(t, "rstrip"), Flag(t, "normalized")));
        double? max = o["model_max_length"] is JsonValue mv && mv.TryGetValue(out double d) ? d : null;
        return this with
        {
            BosToken = Special(o, "bos_token") ?? BosToken,
            EosToken = Special(o, "eos_token") ?? EosToken,
            PadToken = Special(o, "pad_token") ?? PadToken,
            UnkToken = Special(o, "unk_token") ?? UnkToken,
            AddBosToken = Bool(o, "add_bos_token") ?? AddBosToken,
            AddEosToken = Bool(o, "add_eos_token") ?? AddEosToken,
            ModelMaxLength = max is { } m && m < int.MaxValue ? (int)m : ModelMaxLength,
            PaddingSide = Side(o, "padding_side") ?? PaddingSide,
            TruncationSide = Side(o, "truncation_side") ?? TruncationSide,
            CleanUpTokenizationSpaces = Bool(o, "clean_up_tokenization_spaces") ?? CleanUpTokenizationSpaces,
            DoLowerCase = Bool(o, "do_lower_case") ?? DoLowerCase,
            AddedTokens = added,
        };
    }

    static bool Flag(JsonNode t, string name) => t[name] is JsonValue v && v.TryGetValue(out bool b) && b;

    static bool? Bool(JsonObject o, string name) => o[name] is JsonValue v && v.TryGetValue(out bool b) ? b : null;

    static PaddingSide? Side(JsonObject o, string name) => o[name] is JsonValue v && v.TryGetValue(out string? s)
        ? (s == "left" ? PaddingSide.Left : PaddingSide.Right) : null;

    static string? Special(JsonObject o, string name) => o[name] switch
    {
        JsonValue v when v.TryGetValue(out string? s) => s,
        JsonObject obj => obj["content"]?.GetValue<string>(),
        _ => null,
    };
}
