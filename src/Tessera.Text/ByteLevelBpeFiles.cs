using System.Text.Encodings.Web;
using System.Text.Json;
using Tessera.Formats;

namespace Tessera.Text;

/// <summary>
/// Writes a GPT-2-style byte-level BPE tokenizer (ByteLevel pre-tokenizer, post-processor and decoder; one special
/// end-of-text token after the vocabulary that is BOS, EOS and UNK) as tokenizer.json and tokenizer_config.json,
/// each atomically. Shared by <see cref="ByteVocabulary"/> (no merges) and <see cref="Gpt2Vocabulary"/>.
/// </summary>
internal static class ByteLevelBpeFiles
{
    /// <param name="folder">The model folder (created if needed).</param>
    /// <param name="tokens">Tokens in byte-level spelling, by id; the end-of-text token gets the next id.</param>
    /// <param name="merges">Merges in rank order.</param>
    /// <param name="endOfText">The special token's text.</param>
    /// <param name="modelMaxLength">The model's context, recorded as model_max_length.</param>
    public static void Write(string folder, IReadOnlyList<string> tokens, IReadOnlyList<(string, string)> merges, string endOfText, int modelMaxLength)
    {
        Directory.CreateDirectory(folder);
        AtomicFile.Write(Path.Combine(folder, "tokenizer.json"), stream =>
        {
            using var w = new Utf8JsonWriter(stream, new JsonWriterOptions { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping });
            w.WriteStartObject();
            w.WriteString("version", "1.0");
            w.WriteNull("truncation");
            w.WriteNull("padding");
            w.WriteStartArray("added_tokens");
            w.WriteStartObject();
            w.WriteNumber("id", tokens.Count);
            w.WriteString("content", endOfText);
            w.WriteBoolean("single_word", false);
            w.WriteBoolean("lstrip", false);
            w.WriteBoolean("rstrip", false);
            w.WriteBoolean("normalized", false);
            w.WriteBoolean("special", true);
            w.WriteEndObject();
            w.WriteEndArray();
            w.WriteNull("normalizer");
            foreach (string part in new[] { "pre_tokenizer", "post_processor", "decoder" })
            {
                w.WriteStartObject(part);
                w.WriteString("type", "ByteLevel");
                w.WriteBoolean("add_prefix_space", false);
                w.WriteBoolean("trim_offsets", true);
                w.WriteBoolean("use_regex", true);
                w.WriteEndObject();
            }
            w.WriteStartObject("model");
            w.WriteString("type", "BPE");
            w.WriteNull("dropout");
            w.WriteNull("unk_token");
            w.WriteString("continuing_subword_prefix", "");
            w.WriteString("end_of_word_suffix", "");
            w.WriteBoolean("fuse_unk", false);
            w.WriteBoolean("byte_fallback", false);
            w.WriteBoolean("ignore_merges", false);
            w.WriteStartObject("vocab");
            for (int i = 0; i < tokens.Count; i++) w.WriteNumber(tokens[i], i);
            w.WriteNumber(endOfText, tokens.Count);
            w.WriteEndObject();
            w.WriteStartArray("merges");
            foreach (var (a, b) in merges) w.WriteStringValue($"{a} {b}");
            w.WriteEndArray();
            w.WriteEndObject();
            w.WriteEndObject();
        });
        AtomicFile.WriteAllText(Path.Combine(folder, "tokenizer_config.json"), $$"""
            {
              "bos_token": "{{endOfText}}",
              "eos_token": "{{endOfText}}",
              "unk_token": "{{endOfText}}",
              "add_bos_token": false,
              "model_max_length": {{modelMaxLength}},
              "clean_up_tokenization_spaces": false,
              "tokenizer_class": "GPT2Tokenizer"
            }
            """ + "\n");
    }
}
