using System.Text.Json;
using System.Text.Json.Nodes;
using Tessera.Formats;

namespace Tessera.Text.Pipeline;

/// <summary>Builds an <see cref="HfTokenizer"/> from tokenizer.json or from the older vocab.json + merges.txt / vocab.txt files.</summary>
internal static class TokenizerFiles
{
    /// <summary>Reads a tokenizer.json file.</summary>
    public static HfTokenizer FromTokenizerJson(string path, TokenizerConfig config)
    {
        JsonNode? root;
        try { root = JsonNode.Parse(File.ReadAllText(path), documentOptions: new JsonDocumentOptions { MaxDepth = 256 }); }
        catch (JsonException e) { throw new TesseraFormatException(path, $"not valid JSON: {e.Message}", e); }
        if (root is not JsonObject obj) throw new TesseraFormatException(path, "expected a JSON object");
        try
        {
            var added = new List<AddedToken>();
            foreach (JsonNode? t in obj["added_tokens"] is null ? [] : JsonHelpers.Array(obj, "added_tokens", path, "tokenizer.json"))
            {
                if (t is null) continue;
                int id = JsonHelpers.RequiredInt(t, "id", path, "an added_tokens entry");
                if (id < 0) throw new TesseraFormatException(path, $"added_tokens: id {id} is negative");
                added.Add(new AddedToken(id, JsonHelpers.RequiredStr(t, "content", path, "an added_tokens entry"), JsonHelpers.Bool(t, "special", false),
                    JsonHelpers.Bool(t, "single_word", false), JsonHelpers.Bool(t, "lstrip", false), JsonHelpers.Bool(t, "rstrip", false),
                    JsonHelpers.Bool(t, "normalized", false)));
            }
            return new HfTokenizer(Normalizer.FromJson(obj["normalizer"], path), PreTokenizer.FromJson(obj["pre_tokenizer"], path),
                TokenModel.FromJson(obj["model"], path), PostProcessor.FromJson(obj["post_processor"], path), Decoder.FromJson(obj["decoder"], path),
                added, config);
        }
        catch (Exception e) when (e is InvalidOperationException or FormatException or ArgumentException)
        {
            // JsonNode's typed reads throw these when a field holds another JSON type than the format says.
            throw new TesseraFormatException(path, $"a field has an unexpected type or value: {e.Message}", e);
        }
    }

    /// <summary>GPT-2's original files: a byte-level BPE with <c>&lt;|endoftext|&gt;</c> as BOS, EOS and UNK unless the config says otherwise.</summary>
    public static HfTokenizer FromVocabAndMerges(string vocabPath, string mergesPath, TokenizerConfig config)
    {
        Dictionary<string, int> vocab;
        try
        {
            vocab = JsonSerializer.Deserialize<Dictionary<string, int>>(File.ReadAllText(vocabPath))
                ?? throw new TesseraFormatException(vocabPath, "expected an object of token: id");
        }
        catch (JsonException e) { throw new TesseraFormatException(vocabPath, $"expected an object of token: id: {e.Message}", e); }
        var merges = new List<(string, string)>();
        int line = 0;
        foreach (string raw in File.ReadLines(mergesPath))
        {
            line++;
            if (raw.StartsWith("#version", StringComparison.Ordinal) || raw.Length == 0) continue;
            string[] parts = raw.Split(' ');
            if (parts.Length != 2) throw new TesseraFormatException(mergesPath, $"line {line}: expected two tokens separated by one space");
            merges.Add((parts[0], parts[1]));
        }
        const string eot = "<|endoftext|>";
        var added = new List<AddedToken>();
        if (vocab.TryGetValue(eot, out int eotId)) added.Add(new AddedToken(eotId, eot, true));
        if (eotId >= 0 && vocab.ContainsKey(eot))
            config = config with { BosToken = config.BosToken ?? eot, EosToken = config.EosToken ?? eot, UnkToken = config.UnkToken ?? eot };
        return new HfTokenizer(null, new ByteLevelPreTokenizer(addPrefixSpace: false, useRegex: true),
            new BpeModel(vocab, merges, path: mergesPath), PostProcessor.None, new ByteLevelDecoder(), added, config);
    }

    /// <summary>BERT's vocab.txt (one token per line, id = line number) with BERT's normalizer, pre-tokenizer and [CLS] $A [SEP].</summary>
    public static HfTokenizer FromVocabTxt(string path, TokenizerConfig config)
    {
        var vocab = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (string line in File.ReadLines(path)) vocab.TryAdd(line.TrimEnd('\r'), vocab.Count);
        config = config with
        {
            UnkToken = config.UnkToken ?? "[UNK]",
            PadToken = config.PadToken ?? (vocab.ContainsKey("[PAD]") ? "[PAD]" : null),
        };
        var added = new List<AddedToken>();
        foreach (string s in new[] { "[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]" })
            if (vocab.TryGetValue(s, out int id)) added.Add(new AddedToken(id, s, true));
        if (!vocab.TryGetValue("[CLS]", out int cls) || !vocab.TryGetValue("[SEP]", out int sep))
            throw new TesseraFormatException(path, "a BERT vocab.txt needs [CLS] and [SEP]");
        return new HfTokenizer(new BertNormalizer(true, true, null, config.DoLowerCase), new BertPreTokenizer(),
            new WordPieceModel(vocab, config.UnkToken!, "##", 100), new PostProcessor([(cls, "[CLS]")], [(sep, "[SEP]")]),
            new WordPieceDecoder("##", cleanup: true), added, config);
    }
}
