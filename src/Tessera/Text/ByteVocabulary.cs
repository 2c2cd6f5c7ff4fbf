using System.Text.Encodings.Web;
using System.Text.Json;
using Tessera.Formats;
using Tessera.Text.Pipeline;

namespace Tessera.Text;

/// <summary>
/// A byte-level tokenizer with no merges: one id per byte (id = byte value, spelled as in GPT-2's byte-level
/// alphabet) plus <c>&lt;|endoftext|&gt;</c> = 256. For small language models trained from scratch, where GPT-2's
/// 50257-id vocabulary would dwarf the model. Written as a standard <c>tokenizer.json</c> (ByteLevel pre-tokenizer
/// and decoder, BPE model), so <c>transformers</c> and <see cref="AutoTokenizer"/> load it unchanged.
/// </summary>
public static class ByteVocabulary
{
    /// <summary>The end-of-text token (also BOS), id 256.</summary>
    public const string EndOfText = "<|endoftext|>";

    /// <summary>Id of <see cref="EndOfText"/>.</summary>
    public const int EndOfTextId = 256;

    /// <summary>Number of ids (256 bytes and <see cref="EndOfText"/>).</summary>
    public const int VocabSize = 257;

    /// <summary>Writes tokenizer.json and tokenizer_config.json into <paramref name="folder"/> (created if needed).</summary>
    /// <param name="folder">The model folder.</param>
    /// <param name="modelMaxLength">The model's context, recorded as model_max_length.</param>
    public static void WriteTokenizerFiles(string folder, int modelMaxLength = 1024)
    {
        Directory.CreateDirectory(folder);
        var vocab = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int b = 0; b < 256; b++) vocab[ByteLevelAlphabet.ByteToChar[b].ToString()] = b;
        vocab[EndOfText] = EndOfTextId;
        var byteLevel = new Dictionary<string, object> { ["type"] = "ByteLevel", ["add_prefix_space"] = false, ["trim_offsets"] = true, ["use_regex"] = true };
        var json = new Dictionary<string, object?>
        {
            ["version"] = "1.0",
            ["truncation"] = null,
            ["padding"] = null,
            ["added_tokens"] = new[] { new { id = EndOfTextId, content = EndOfText, single_word = false, lstrip = false, rstrip = false, normalized = false, special = true } },
            ["normalizer"] = null,
            ["pre_tokenizer"] = byteLevel,
            ["post_processor"] = byteLevel,
            ["decoder"] = byteLevel,
            ["model"] = new Dictionary<string, object?>
            {
                ["type"] = "BPE", ["dropout"] = null, ["unk_token"] = null, ["continuing_subword_prefix"] = "", ["end_of_word_suffix"] = "",
                ["fuse_unk"] = false, ["byte_fallback"] = false, ["ignore_merges"] = false, ["vocab"] = vocab, ["merges"] = Array.Empty<string>(),
            },
        };
        var options = new JsonSerializerOptions { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };
        AtomicFile.WriteAllText(Path.Combine(folder, "tokenizer.json"), JsonSerializer.Serialize(json, options));
        AtomicFile.WriteAllText(Path.Combine(folder, "tokenizer_config.json"), $$"""
            {
              "bos_token": "{{EndOfText}}",
              "eos_token": "{{EndOfText}}",
              "unk_token": "{{EndOfText}}",
              "add_bos_token": false,
              "model_max_length": {{modelMaxLength}},
              "clean_up_tokenization_spaces": false,
              "tokenizer_class": "GPT2Tokenizer"
            }
            """ + "\n");
    }
}
