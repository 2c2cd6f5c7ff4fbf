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
        string[] bytes = [.. Enumerable.Range(0, 256).Select(b => ByteLevelAlphabet.ByteToChar[b].ToString())];
        ByteLevelBpeFiles.Write(folder, bytes, [], EndOfText, modelMaxLength);
    }
}
