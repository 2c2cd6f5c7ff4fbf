using Tessera.Formats;
using Tessera.Text.Pipeline;

namespace Tessera.Text;

/// <summary>Loads the tokenizer of a Hugging Face model folder, as transformers' <c>AutoTokenizer</c> does.</summary>
public static class AutoTokenizer
{
    /// <summary>The files looked for, in order of preference.</summary>
    public static IReadOnlyList<string> KnownFiles { get; } = ["tokenizer.json", "vocab.json + merges.txt", "vocab.txt"];

    /// <summary>
    /// Loads the tokenizer in <paramref name="folder"/>: <c>tokenizer.json</c> when present, else GPT-2's
    /// <c>vocab.json</c> + <c>merges.txt</c>, else BERT's <c>vocab.txt</c>; <c>tokenizer_config.json</c> and
    /// <c>special_tokens_map.json</c> add special tokens and defaults. <paramref name="folder"/> may also be a tokenizer.json path.
    /// </summary>
    /// <exception cref="FileNotFoundException">No tokenizer file is in the folder; the message names the folder and the files looked for.</exception>
    /// <exception cref="TesseraFormatException">A file is malformed or uses a component Tessera does not support.</exception>
    public static HfTokenizer FromPretrained(string folder)
    {
        ArgumentNullException.ThrowIfNull(folder);
        if (File.Exists(folder))
            return TokenizerFiles.FromTokenizerJson(folder, TokenizerConfig.Load(Path.GetDirectoryName(Path.GetFullPath(folder))!));
        if (!Directory.Exists(folder)) throw new DirectoryNotFoundException($"tokenizer folder '{folder}' does not exist");
        TokenizerConfig config = TokenizerConfig.Load(folder);
        string json = Path.Combine(folder, "tokenizer.json");
        if (File.Exists(json)) return TokenizerFiles.FromTokenizerJson(json, config);
        string vocab = Path.Combine(folder, "vocab.json"), merges = Path.Combine(folder, "merges.txt");
        if (File.Exists(vocab) && File.Exists(merges)) return TokenizerFiles.FromVocabAndMerges(vocab, merges, config);
        string vocabTxt = Path.Combine(folder, "vocab.txt");
        if (File.Exists(vocabTxt)) return TokenizerFiles.FromVocabTxt(vocabTxt, config);
        throw new FileNotFoundException($"no tokenizer in '{Path.GetFullPath(folder)}': looked for {string.Join(", ", KnownFiles)}");
    }
}
