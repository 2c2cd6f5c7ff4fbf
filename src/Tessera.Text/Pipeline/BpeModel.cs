using System.Collections.Concurrent;
using System.Text;
using System.Text.Json.Nodes;
using Tessera.Formats;

namespace Tessera.Text.Pipeline;

/// <summary>
/// Byte-pair encoding as HF tokenizers define it: start from characters (or byte-fallback <c>&lt;0xNN&gt;</c> tokens, or
/// the unknown token), then repeatedly merge the adjacent pair with the lowest merge rank, leftmost first.
/// Implemented here rather than with Microsoft.ML.Tokenizers' BpeTokenizer because that one has no byte fallback,
/// no <c>ignore_merges</c> and no tokenizer.json reader; the algorithm is the published one.
/// </summary>
internal sealed class BpeModel : TokenModel
{
    readonly Dictionary<string, int> vocab;
    readonly Dictionary<long, (int Rank, int NewId)> merges;
    readonly string? unk, prefix, suffix;
    readonly bool fuseUnk, byteFallback, ignoreMerges;
    readonly int[]? byteIds;
    readonly ConcurrentDictionary<string, ModelToken[]> cache = new(StringComparer.Ordinal);
    const int CacheLimit = 50_000;

    public BpeModel(Dictionary<string, int> vocab, IEnumerable<(string Left, string Right)> merges, string? unk = null,
        string? continuingSubwordPrefix = null, string? endOfWordSuffix = null, bool fuseUnk = false, bool byteFallback = false,
        bool ignoreMerges = false, string? path = null)
    {
        this.vocab = vocab;
        this.unk = unk;
        prefix = string.IsNullOrEmpty(continuingSubwordPrefix) ? null : continuingSubwordPrefix;
        suffix = string.IsNullOrEmpty(endOfWordSuffix) ? null : endOfWordSuffix;
        this.fuseUnk = fuseUnk;
        this.byteFallback = byteFallback;
        this.ignoreMerges = ignoreMerges;
        this.merges = [];
        int rank = 0;
        int prefixLength = prefix?.Length ?? 0;
        foreach (var (left, right) in merges)
        {
            if (!vocab.TryGetValue(left, out int a) || !vocab.TryGetValue(right, out int b))
                throw new TesseraFormatException(path, $"merge {rank} ('{left} {right}') uses a token missing from the vocabulary");
            string merged = left + (prefixLength > 0 && right.StartsWith(prefix!, StringComparison.Ordinal) ? right[prefixLength..] : right);
            if (!vocab.TryGetValue(merged, out int id))
                throw new TesseraFormatException(path, $"merge {rank} ('{left} {right}') makes '{merged}', which is missing from the vocabulary");
            this.merges.TryAdd(Key(a, b), (rank, id));
            rank++;
        }
        if (byteFallback)
        {
            byteIds = new int[256];
            for (int i = 0; i < 256; i++) byteIds[i] = vocab.TryGetValue($"<0x{i:X2}>", out int id) ? id : -1;
        }
    }

    public override IReadOnlyDictionary<string, int> Vocab => vocab;

    public override string? UnknownToken => unk;

    public static new BpeModel FromJson(JsonNode node, string path)
    {
        var vocab = ReadVocab(node["vocab"], path);
        var merges = new List<(string, string)>();
        if (node["merges"] is JsonArray array)
            foreach (JsonNode? m in array)
            {
                if (m is JsonArray pair && pair.Count == 2) merges.Add((pair[0]!.GetValue<string>(), pair[1]!.GetValue<string>()));
                else if (m is JsonValue v && v.TryGetValue(out string? s) && s.IndexOf(' ', 1) is int sp and > 0)
                    merges.Add((s[..sp], s[(sp + 1)..]));
                else throw new TesseraFormatException(path, $"model.merges[{merges.Count}] is neither \"a b\" nor [\"a\", \"b\"]");
            }
        return new BpeModel(vocab, merges, JsonHelpers.Str(node, "unk_token"), JsonHelpers.Str(node, "continuing_subword_prefix"),
            JsonHelpers.Str(node, "end_of_word_suffix"), JsonHelpers.Bool(node, "fuse_unk", false),
            JsonHelpers.Bool(node, "byte_fallback", false), JsonHelpers.Bool(node, "ignore_merges", false), path);
    }

    static long Key(int a, int b) => ((long)a << 32) | (uint)b;

    public override void Tokenize(string word, List<ModelToken> output)
    {
        if (word.Length == 0) return;
        if (cache.TryGetValue(word, out ModelToken[]? cached))
        {
            output.AddRange(cached);
            return;
        }
        ModelToken[] tokens = Encode(word);
        if (cache.Count >= CacheLimit) cache.Clear();
        cache.TryAdd(word, tokens);
        output.AddRange(tokens);
    }

    ModelToken[] Encode(string word)
    {
        if (ignoreMerges && vocab.TryGetValue(word, out int whole)) return [new ModelToken(whole, 0, word.Length)];

        // Initial symbols: one per character (code point).
        var ids = new List<int>(word.Length);
        var starts = new List<int>(word.Length);
        var ends = new List<int>(word.Length);
        bool lastWasUnk = false;
        Span<byte> utf8 = stackalloc byte[4];
        int i = 0;
        while (i < word.Length)
        {
            Rune.DecodeFromUtf16(word.AsSpan(i), out Rune rune, out int used);
            string piece = word.Substring(i, used);
            if (prefix is not null && i > 0) piece = prefix + piece;
            if (suffix is not null && i + used == word.Length) piece += suffix;
            if (vocab.TryGetValue(piece, out int id))
            {
                ids.Add(id); starts.Add(i); ends.Add(i + used);
                lastWasUnk = false;
            }
            else if (byteFallback && AllBytesKnown(rune, utf8, out int n))
            {
                for (int k = 0; k < n; k++) { ids.Add(byteIds![utf8[k]]); starts.Add(i); ends.Add(i + used); }
                lastWasUnk = false;
            }
            else if (unk is not null && vocab.TryGetValue(unk, out int unkId))
            {
                if (fuseUnk && lastWasUnk) ends[^1] = i + used;
                else { ids.Add(unkId); starts.Add(i); ends.Add(i + used); }
                lastWasUnk = true;
            }
            i += used;
        }

        int count = ids.Count;
        var next = new int[count];
        var prev = new int[count];
        var alive = new bool[count];
        for (int k = 0; k < count; k++) { next[k] = k + 1 < count ? k + 1 : -1; prev[k] = k - 1; alive[k] = true; }
        var idArray = ids.ToArray();
        var endArray = ends.ToArray();

        var queue = new PriorityQueue<(int Pos, int NewId), (int Rank, int Pos)>();
        for (int k = 0; k + 1 < count; k++)
            if (merges.TryGetValue(Key(idArray[k], idArray[k + 1]), out var m)) queue.Enqueue((k, m.NewId), (m.Rank, k));

        while (queue.TryDequeue(out var item, out _))
        {
            int pos = item.Pos;
            if (!alive[pos] || next[pos] < 0) continue;
            int right = next[pos];
            if (!merges.TryGetValue(Key(idArray[pos], idArray[right]), out var m) || m.NewId != item.NewId) continue;
            idArray[pos] = m.NewId;
            endArray[pos] = endArray[right];
            alive[right] = false;
            next[pos] = next[right];
            if (next[pos] >= 0) prev[next[pos]] = pos;
            if (prev[pos] >= 0 && merges.TryGetValue(Key(idArray[prev[pos]], idArray[pos]), out var left))
                queue.Enqueue((prev[pos], left.NewId), (left.Rank, prev[pos]));
            if (next[pos] >= 0 && merges.TryGetValue(Key(idArray[pos], idArray[next[pos]]), out var after))
                queue.Enqueue((pos, after.NewId), (after.Rank, pos));
        }

        var result = new List<ModelToken>(count);
        for (int k = 0; k < count; k++)
            if (alive[k]) result.Add(new ModelToken(idArray[k], starts[k], endArray[k]));
        return [.. result];
    }

    bool AllBytesKnown(Rune rune, Span<byte> utf8, out int n)
    {
        n = rune.EncodeToUtf8(utf8);
        for (int k = 0; k < n; k++) if (byteIds![utf8[k]] < 0) return false;
        return true;
    }
}
