using System.Text.Json.Nodes;
using Microsoft.ML.Tokenizers;
using Tessera.Tests.Shared;
using Tessera.Text;

namespace Tessera.Text.Tests;

public class HfTokenizerTests
{
    static readonly Lazy<HfTokenizer> gpt2 = new(() => AutoTokenizer.FromPretrained(TokenizerFixtures.Gpt2Folder));
    static readonly Lazy<HfTokenizer> bert = new(() => AutoTokenizer.FromPretrained(TokenizerFixtures.BertFolder));
    static readonly Lazy<HfTokenizer> sp = new(() => AutoTokenizer.FromPretrained(TokenizerFixtures.SentencePieceFolder));

    [Fact]
    public void Gpt2_gives_the_published_ids()
    {
        HfTokenizer tok = gpt2.Value;
        Assert.Equal([15496, 995], tok.Encode("Hello world").Ids);
        Assert.Equal(["Hello", "\u0120world"], tok.Encode("Hello world").Tokens);
        Assert.Equal([50256], tok.Encode("<|endoftext|>").Ids);
        Assert.Equal(50257, tok.VocabSize);
        Assert.Equal(50256, tok.EosTokenId);
        Assert.Equal(50256, tok.BosTokenId);
        Assert.Null(tok.PadTokenId);
        Assert.Equal(995, tok.TokenToId("\u0120world"));
        Assert.Equal("Hello", tok.IdToToken(15496));
        Assert.Equal([(0, 5), (5, 11)], tok.Encode("Hello world").Offsets);
    }

    [Fact]
    public void Gpt2_matches_Microsoft_ML_Tokenizers_tiktoken_on_the_corpus()
    {
        // An in-process independent reference: ML.Tokenizers' own GPT-2 (tiktoken ranks, its own regex and BPE).
        TiktokenTokenizer reference = TiktokenTokenizer.CreateForModel("gpt2");
        var mismatches = new List<string>();
        foreach (string line in TokenizerFixtures.Corpus)
        {
            int[] ours = [.. gpt2.Value.Encode(line).Ids];
            int[] theirs = [.. reference.EncodeToIds(line)];
            if (!ours.SequenceEqual(theirs)) mismatches.Add($"{Show(line)}: ours [{string.Join(',', ours)}] theirs [{string.Join(',', theirs)}]");
        }
        Assert.True(mismatches.Count == 0, $"{mismatches.Count} of {TokenizerFixtures.Corpus.Count} differ:\n{string.Join('\n', mismatches.Take(5))}");
    }

    [Fact]
    public void Gpt2_tokens_that_split_a_character_match_tiktoken()
    {
        // Gpt2Vocabulary recovers the bytes of tokens that start or end inside a UTF-8 character by decoding them between
        // completing bytes; text made of multi-byte characters uses such tokens.
        TiktokenTokenizer reference = TiktokenTokenizer.CreateForModel("gpt2");
        string[] lines =
        [
            "naïve café, “quoted” — façade œuvre Ærø",
            "日本語のテキストと中文文本，한국어 텍스트",
            "Ελληνικά κείμενα και русский текст",
            "emoji 🤖🎉👩‍👩‍👧 and symbols ∑∫≠≤ ™ © ½ ¾",
            "\u00a0non-breaking\u2009thin\u200bzero-width",
        ];
        foreach (string line in lines)
        {
            int[] ours = [.. gpt2.Value.Encode(line).Ids];
            Assert.Equal([.. reference.EncodeToIds(line)], ours);
            Assert.Equal(line, gpt2.Value.Decode(ours));
        }
    }

    [Fact]
    public void Byte_level_and_sentencepiece_decode_round_trips()
    {
        foreach (string line in TokenizerFixtures.Corpus)
        {
            Assert.Equal(line, gpt2.Value.Decode(gpt2.Value.Encode(line).Ids));
            Assert.Equal(line, sp.Value.Decode(sp.Value.Encode(line).Ids, skipSpecialTokens: true));
        }
    }

    [Fact]
    public void Legacy_vocab_json_and_merges_txt_give_the_same_ids_as_tokenizer_json()
    {
        using var dir = new TempDirectory();
        var model = JsonNode.Parse(File.ReadAllText(Path.Combine(TokenizerFixtures.Gpt2Folder, "tokenizer.json")))!["model"]!;
        File.WriteAllText(dir.File("vocab.json"), model["vocab"]!.ToJsonString());
        File.WriteAllLines(dir.File("merges.txt"), ["#version: 0.2", .. model["merges"]!.AsArray().Select(m => m!.GetValue<string>())]);
        HfTokenizer legacy = AutoTokenizer.FromPretrained(dir.Path);
        Assert.Equal(50256, legacy.EosTokenId);
        foreach (string line in TokenizerFixtures.Corpus.Take(300))
            Assert.Equal(gpt2.Value.Encode(line).Ids, legacy.Encode(line).Ids);
    }

    [Fact]
    public void Bert_vocab_txt_and_tokenizer_json_agree_and_add_cls_sep()
    {
        using var dir = new TempDirectory();
        File.Copy(Path.Combine(TokenizerFixtures.BertFolder, "vocab.txt"), dir.File("vocab.txt"));
        HfTokenizer fromTxt = AutoTokenizer.FromPretrained(dir.Path);
        foreach (string line in TokenizerFixtures.Corpus.Take(500))
            Assert.Equal(bert.Value.Encode(line).Ids, fromTxt.Encode(line).Ids);

        TokenEncoding e = bert.Value.Encode("Hello, WORLD!");
        Assert.Equal("[CLS]", e.Tokens[0]);
        Assert.Equal("[SEP]", e.Tokens[^1]);
        Assert.Equal([1, .. Enumerable.Repeat(0, e.Count - 2), 1], e.SpecialTokensMask);
        int comma = e.Tokens.ToList().IndexOf(",");
        Assert.Equal((5, 6), e.Offsets[comma]);
        Assert.Equal("world", "Hello, WORLD!"[e.Offsets[comma + 1].Start..e.Offsets[comma + 1].End].ToLowerInvariant());
        Assert.Equal("hello, world!", bert.Value.Decode(e.Ids, skipSpecialTokens: true));
        Assert.Equal(bert.Value.UnkTokenId, bert.Value.Encode("Ωmega", addSpecialTokens: false).Ids.Single());
        Assert.Equal(0, bert.Value.PadTokenId);
    }

    [Fact]
    public void Sentencepiece_style_bpe_uses_byte_fallback_and_bos()
    {
        HfTokenizer tok = sp.Value;
        TokenEncoding e = tok.Encode("Ω");
        Assert.Equal(["<s>", "\u2581", "<0xCE>", "<0xA9>"], e.Tokens);
        Assert.Equal(1, tok.BosTokenId);
        Assert.Equal(2, tok.EosTokenId);
        Assert.Equal("Ω", tok.Decode(e.Ids, skipSpecialTokens: true));
        Assert.Equal("<s> hello", tok.Decode(tok.Encode(" hello").Ids.Take(1).Concat(tok.Encode("hello", false).Ids)).Replace("<s>", "<s> ").Replace("  ", " ", StringComparison.Ordinal)[..9]);
    }

    [Fact]
    public void EncodeBatch_pads_left_or_right_with_masks_and_truncates()
    {
        HfTokenizer tok = sp.Value;
        string[] texts = ["Hello world, this is a longer line", "Hi"];
        BatchEncoding left = tok.EncodeBatch(texts);
        Assert.Equal(2, left.BatchSize);
        int n0 = tok.Encode(texts[0]).Count, n1 = tok.Encode(texts[1]).Count;
        Assert.Equal(n0, left.SequenceLength);
        Assert.Equal(Enumerable.Repeat(0L, n0 - n1).Concat(Enumerable.Repeat(1L, n1)), left.AttentionMask[1]);
        Assert.Equal(tok.Encode(texts[1]).Ids.Select(i => (long)i), left.InputIds[1][(n0 - n1)..]);
        Assert.All(left.InputIds[1][..(n0 - n1)], id => Assert.Equal(tok.EosTokenId, (int)id)); // no pad token: EOS pads

        BatchEncoding right = bert.Value.EncodeBatch(texts, PaddingStrategy.MaxLength, maxLength: 8, truncation: true, paddingSide: PaddingSide.Right);
        Assert.Equal(8, right.SequenceLength);
        Assert.Equal(16, right.FlattenInputIds().Length);
        Assert.Equal(3L, right.InputIds[0][7]); // [SEP] survives truncation
        Assert.Equal(0L, right.InputIds[1][^1]);
        Assert.Equal(0L, right.AttentionMask[1][^1]);
        Assert.Equal(8, bert.Value.Encode(texts[0], maxLength: 8).Count);
    }

    [Theory]
    [InlineData("gpt2")]
    [InlineData("sp")]
    public void StreamingDecoder_never_splits_a_character_and_adds_up_to_decode(string which)
    {
        HfTokenizer tok = which == "gpt2" ? gpt2.Value : sp.Value;
        foreach (string line in TokenizerFixtures.HardCases.Concat(TokenizerFixtures.Corpus.Take(200)))
        {
            var ids = tok.Encode(line).Ids;
            StreamingDecoder stream = tok.CreateStreamingDecoder();
            var pieces = new List<string>();
            foreach (int id in ids) pieces.Add(stream.Push(id));
            pieces.Add(stream.Flush());
            Assert.All(pieces, p => Assert.DoesNotContain('\uFFFD', p));
            Assert.All(pieces, p => Assert.False(p.Length > 0 && char.IsHighSurrogate(p[^1]), "piece ends inside a surrogate pair"));
            Assert.Equal(tok.Decode(ids, skipSpecialTokens: true), string.Concat(pieces));
        }
    }

    [Fact]
    public void StreamingDecoder_keeps_streamed_characters_when_a_byte_run_turns_invalid()
    {
        HfTokenizer tok = sp.Value;
        int[] ids = [.. new[] { "<0xC3>", "<0xA9>", "<0xFF>", "<0xFE>" }.Select(t => tok.TokenToId(t) ?? throw new InvalidOperationException($"{t} is not in the fixture"))];
        // Hugging Face's ByteFallback decoder replaces every byte of an invalid run, the valid "é" included.
        Assert.Equal("\uFFFD\uFFFD\uFFFD\uFFFD", tok.Decode(ids, skipSpecialTokens: true));
        StreamingDecoder stream = tok.CreateStreamingDecoder();
        var pieces = ids.Select(stream.Push).ToList();
        pieces.Add(stream.Flush());
        Assert.Equal(["", "é", "", "", "\uFFFD\uFFFD"], pieces);
    }

    [Fact]
    public void Missing_tokenizer_names_the_folder_and_the_files()
    {
        using var dir = new TempDirectory();
        var e = Assert.Throws<FileNotFoundException>(() => AutoTokenizer.FromPretrained(dir.Path));
        Assert.Contains(dir.Path, e.Message);
        Assert.Contains("tokenizer.json", e.Message);
        Assert.Contains("vocab.txt", e.Message);
        File.WriteAllText(dir.File("tokenizer.json"), """{"model": {"type": "Unigram", "vocab": []}}""");
        var f = Assert.Throws<Tessera.Formats.TesseraFormatException>(() => AutoTokenizer.FromPretrained(dir.Path));
        Assert.Contains("Unigram", f.Message);
    }

    internal static string Show(string s) => System.Text.Json.JsonSerializer.Serialize(s.Length > 80 ? s[..80] : s);

    [Fact]
    public void Llama3_style_ignore_merges_takes_a_word_found_in_the_vocabulary_whole()
    {
        var llama3 = AutoTokenizer.FromPretrained(TokenizerFixtures.Llama3Folder);
        var qwen2 = AutoTokenizer.FromPretrained(TokenizerFixtures.Qwen2Folder);
        int bos = llama3.TokenToId("<|begin_of_text|>")!.Value;
        int[] whole = [.. new[] { "tokenization", "_internationalization" }.Select(w => llama3.TokenToId(w)!.Value)];
        Assert.Equal([bos, .. whole], llama3.Encode("tokenization_internationalization").Ids);
        // Without ignore_merges (Qwen2) the same vocabulary entries are unreachable by merges.
        var split = qwen2.Encode("tokenization_internationalization").Ids;
        Assert.True(split.Count > 2, string.Join(",", split));
        Assert.DoesNotContain(qwen2.TokenToId("tokenization")!.Value, split);
    }

    [Fact]
    public void Llama3_and_Qwen2_style_splits_group_digits_by_three_and_one()
    {
        var llama3 = AutoTokenizer.FromPretrained(TokenizerFixtures.Llama3Folder);
        var qwen2 = AutoTokenizer.FromPretrained(TokenizerFixtures.Qwen2Folder);
        Assert.Equal(["<|begin_of_text|>", "123", "45"], llama3.Encode("12345").Ids.Select(id => llama3.IdToToken(id)));
        Assert.Equal(["1", "2", "3", "4", "5"], qwen2.Encode("12345").Ids.Select(id => qwen2.IdToToken(id)));
        // Qwen2 normalizes to NFC first: a decomposed é encodes like the composed one.
        Assert.Equal(qwen2.Encode("caf\u00e9").Ids, qwen2.Encode("cafe\u0301").Ids);
        Assert.NotEqual(llama3.Encode("caf\u00e9").Ids, llama3.Encode("cafe\u0301").Ids);
    }

    [Fact]
    public void A_split_regex_dotnet_cannot_parse_is_a_format_error_naming_the_file_and_the_pattern()
    {
        using var dir = new TempDirectory();
        // GPT-4-style possessive quantifiers (?+ and ++): Rust's fancy-regex has them, .NET does not.
        const string pattern = @"[^\r\n\p{L}\p{N}]?+\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]++[\r\n]*";
        var json = new System.Text.Json.Nodes.JsonObject
        {
            ["pre_tokenizer"] = new System.Text.Json.Nodes.JsonObject
            {
                ["type"] = "Split", ["pattern"] = new System.Text.Json.Nodes.JsonObject { ["Regex"] = pattern }, ["behavior"] = "Isolated", ["invert"] = false,
            },
            ["model"] = System.Text.Json.Nodes.JsonNode.Parse("""{"type": "BPE", "vocab": {"a": 0}, "merges": []}"""),
        };
        File.WriteAllText(dir.File("tokenizer.json"), json.ToJsonString());
        var e = Assert.Throws<Tessera.Formats.TesseraFormatException>(() => AutoTokenizer.FromPretrained(dir.Path));
        Assert.Contains("tokenizer.json", e.Message);
        Assert.Contains("Split pre_tokenizer", e.Message);
        Assert.Contains(pattern, e.Message);
    }
}
