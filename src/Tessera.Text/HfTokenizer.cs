using Tessera.Text.Pipeline;

namespace Tessera.Text;

/// <summary>
/// A Hugging Face tokenizer: the tokenizer.json pipeline (added tokens, normalizer, pre-tokenizer, BPE or
/// WordPiece model, post-processor, decoder) plus tokenizer_config.json's special tokens, padding and truncation.
/// Load one with <see cref="AutoTokenizer.FromPretrained"/>. Thread-safe for concurrent encoding and decoding.
/// </summary>
public sealed class HfTokenizer
{
    readonly Normalizer? normalizer;
    readonly PreTokenizer? preTokenizer;
    readonly TokenModel model;
    readonly PostProcessor post;
    readonly Decoder? decoder;
    readonly AddedTokenSplitter splitter;
    readonly Dictionary<string, int> addedByContent;
    readonly Dictionary<int, string> idToToken = [];
    readonly HashSet<int> specialIds = [];

    internal HfTokenizer(Normalizer? normalizer, PreTokenizer? preTokenizer, TokenModel model, PostProcessor post, Decoder? decoder,
        IReadOnlyList<AddedToken> addedTokens, TokenizerConfig config)
    {
        this.normalizer = normalizer;
        this.preTokenizer = preTokenizer;
        this.model = model;
        this.decoder = decoder;
        Config = config;
        var added = new Dictionary<string, AddedToken>(StringComparer.Ordinal);
        foreach (AddedToken t in addedTokens.Concat(config.AddedTokens)) added.TryAdd(t.Content, t);
        AddedTokens = [.. added.Values.OrderBy(t => t.Id)];
        addedByContent = added.Values.ToDictionary(t => t.Content, t => t.Id, StringComparer.Ordinal);
        foreach (var (token, id) in model.Vocab) idToToken[id] = token;
        foreach (AddedToken t in AddedTokens)
        {
            idToToken[t.Id] = t.Content;
            if (t.Special) specialIds.Add(t.Id);
        }
        splitter = new AddedTokenSplitter(AddedTokens);
        BosTokenId = Id(config.BosToken);
        EosTokenId = Id(config.EosToken);
        PadTokenId = Id(config.PadToken);
        UnkTokenId = Id(config.UnkToken ?? model.UnknownToken);
        this.post = ApplyConfig(post, config);
    }

    int? Id(string? token) => token is not null && TokenToId(token) is int id ? id : null;

    /// <summary>tokenizer_config.json's add_bos_token/add_eos_token override the post-processor, as HF's fast Llama tokenizer does.</summary>
    PostProcessor ApplyConfig(PostProcessor p, TokenizerConfig config)
    {
        var before = p.Before.ToList();
        var after = p.After.ToList();
        if (config.AddBosToken is bool bos && BosTokenId is int b)
        {
            before.RemoveAll(t => t.Id == b);
            if (bos) before.Insert(0, (b, config.BosToken!));
        }
        if (config.AddEosToken is bool eos && EosTokenId is int e)
        {
            after.RemoveAll(t => t.Id == e);
            if (eos) after.Add((e, config.EosToken!));
        }
        return new PostProcessor(before, after);
    }

    /// <summary>The settings read from tokenizer_config.json.</summary>
    public TokenizerConfig Config { get; }

    /// <summary>The added tokens (special and not), by id.</summary>
    public IReadOnlyList<AddedToken> AddedTokens { get; }

    /// <summary>The number of ids: the model's vocabulary plus added tokens (the largest id + 1).</summary>
    public int VocabSize => idToToken.Count == 0 ? 0 : idToToken.Keys.Max() + 1;

    /// <summary>Id of the beginning-of-sequence token, when the tokenizer has one.</summary>
    public int? BosTokenId { get; }

    /// <summary>Id of the end-of-sequence token, when the tokenizer has one.</summary>
    public int? EosTokenId { get; }

    /// <summary>Id of the padding token, when the tokenizer has one (batches fall back to <see cref="EosTokenId"/>).</summary>
    public int? PadTokenId { get; }

    /// <summary>Id of the unknown token, when the tokenizer has one.</summary>
    public int? UnkTokenId { get; }

    /// <summary>The longest input the model accepts (tokenizer_config.json's model_max_length), when known.</summary>
    public int? ModelMaxLength => Config.ModelMaxLength;

    /// <summary>The id of <paramref name="token"/> (a vocabulary string or an added token), or null.</summary>
    public int? TokenToId(string token) =>
        addedByContent.TryGetValue(token, out int a) ? a : model.Vocab.TryGetValue(token, out int id) ? id : null;

    /// <summary>The vocabulary string of <paramref name="id"/>, or null for an unknown id.</summary>
    public string? IdToToken(int id) => idToToken.GetValueOrDefault(id);

    /// <summary>Whether <paramref name="id"/> is a special added token.</summary>
    public bool IsSpecial(int id) => specialIds.Contains(id);

    /// <summary>Encodes <paramref name="text"/>.</summary>
    /// <param name="text">The input text.</param>
    /// <param name="addSpecialTokens">Add the post-processor's tokens (BERT's [CLS]/[SEP], Llama's &lt;s&gt;).</param>
    /// <param name="maxLength">When set, truncate to this many tokens (special tokens included), at <see cref="TokenizerConfig.TruncationSide"/>.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="maxLength"/> is smaller than the number of special tokens.</exception>
    public TokenEncoding Encode(string text, bool addSpecialTokens = true, int? maxLength = null)
    {
        ArgumentNullException.ThrowIfNull(text);
        var ids = new List<int>();
        var offsets = new List<(int, int)>();
        var special = new List<int>();
        var buffer = new List<ModelToken>();
        foreach (var (start, end, added) in splitter.Split(text))
        {
            if (added is not null)
            {
                ids.Add(added.Id);
                offsets.Add((start, end));
                special.Add(added.Special ? 1 : 0);
                continue;
            }
            NormalizedText piece = NormalizedText.FromOriginal(text, start, end);
            if (normalizer is not null) piece = normalizer.Normalize(piece);
            var words = new List<NormalizedText> { piece };
            if (preTokenizer is not null) words = preTokenizer.SplitAll(words);
            foreach (NormalizedText word in words)
            {
                buffer.Clear();
                model.Tokenize(word.Text, buffer);
                foreach (ModelToken t in buffer)
                {
                    ids.Add(t.Id);
                    offsets.Add(word.OriginalRange(t.Start, t.End));
                    special.Add(0);
                }
            }
        }
        var before = addSpecialTokens ? post.Before : [];
        var after = addSpecialTokens ? post.After : [];
        if (maxLength is int max)
        {
            int room = max - before.Count - after.Count;
            if (room < 0) throw new ArgumentOutOfRangeException(nameof(maxLength), max, $"maxLength must leave room for the {before.Count + after.Count} special tokens");
            if (ids.Count > room)
            {
                int cut = ids.Count - room, from = Config.TruncationSide == PaddingSide.Left ? 0 : room;
                ids.RemoveRange(from, cut);
                offsets.RemoveRange(from, cut);
                special.RemoveRange(from, cut);
            }
        }
        ids.InsertRange(0, before.Select(t => t.Id));
        offsets.InsertRange(0, before.Select(_ => (0, 0)));
        special.InsertRange(0, before.Select(_ => 1));
        ids.AddRange(after.Select(t => t.Id));
        offsets.AddRange(after.Select(_ => (0, 0)));
        special.AddRange(after.Select(_ => 1));
        return new TokenEncoding([.. ids], [.. ids.Select(i => IdToToken(i) ?? "")], [.. offsets], [.. special]);
    }

    /// <summary>Encodes several texts into one int64 batch with attention masks.</summary>
    /// <param name="texts">The inputs, one row each.</param>
    /// <param name="padding">How to pad the rows.</param>
    /// <param name="maxLength">Truncation length (when <paramref name="truncation"/>) and the length <see cref="PaddingStrategy.MaxLength"/> pads to; defaults to <see cref="ModelMaxLength"/>.</param>
    /// <param name="truncation">Truncate rows longer than <paramref name="maxLength"/>.</param>
    /// <param name="paddingSide">Where padding goes; defaults to tokenizer_config.json's padding_side.</param>
    /// <param name="addSpecialTokens">Add the post-processor's tokens.</param>
    /// <exception cref="ArgumentException">A length is needed (truncation or max-length padding) and neither <paramref name="maxLength"/> nor model_max_length gives one.</exception>
    /// <exception cref="InvalidOperationException">Padding is needed and the tokenizer has neither a pad nor an EOS token.</exception>
    public BatchEncoding EncodeBatch(IReadOnlyList<string> texts, PaddingStrategy padding = PaddingStrategy.Longest, int? maxLength = null,
        bool truncation = false, PaddingSide? paddingSide = null, bool addSpecialTokens = true)
    {
        ArgumentNullException.ThrowIfNull(texts);
        int? limit = maxLength ?? ModelMaxLength;
        if ((truncation || padding == PaddingStrategy.MaxLength) && limit is null)
            throw new ArgumentException("truncation and max-length padding need maxLength (this tokenizer has no model_max_length)", nameof(maxLength));
        var rows = new int[texts.Count][];
        Parallel.For(0, texts.Count, i => rows[i] = [.. Encode(texts[i], addSpecialTokens, truncation ? limit : null).Ids]);
        int width = padding switch
        {
            PaddingStrategy.Longest => rows.Length == 0 ? 0 : rows.Max(r => r.Length),
            PaddingStrategy.MaxLength => Math.Max(limit!.Value, rows.Length == 0 ? 0 : rows.Max(r => r.Length)),
            _ => 0,
        };
        bool left = (paddingSide ?? Config.PaddingSide) == PaddingSide.Left;
        var ids = new long[rows.Length][];
        var mask = new long[rows.Length][];
        for (int i = 0; i < rows.Length; i++)
        {
            int n = rows[i].Length, total = Math.Max(width, n), pad = total - n;
            long padId = pad == 0 ? 0 : PadTokenId ?? EosTokenId
                ?? throw new InvalidOperationException("padding needs a pad token; this tokenizer defines neither pad_token nor eos_token");
            ids[i] = new long[total];
            mask[i] = new long[total];
            int offset = left ? pad : 0;
            for (int k = 0; k < total; k++) ids[i][k] = padId;
            for (int k = 0; k < n; k++) { ids[i][offset + k] = rows[i][k]; mask[i][offset + k] = 1; }
        }
        return new BatchEncoding(ids, mask);
    }

    /// <summary>Turns ids back into text; unknown ids are skipped.</summary>
    /// <param name="ids">Token ids.</param>
    /// <param name="skipSpecialTokens">Drop special added tokens (&lt;|endoftext|&gt;, [CLS], ...).</param>
    /// <param name="cleanUpTokenizationSpaces">Remove spaces before punctuation; defaults to tokenizer_config.json's setting.</param>
    public string Decode(IEnumerable<int> ids, bool skipSpecialTokens = false, bool? cleanUpTokenizationSpaces = null)
    {
        ArgumentNullException.ThrowIfNull(ids);
        var tokens = new List<string>();
        foreach (int id in ids)
            if (idToToken.TryGetValue(id, out string? t) && !(skipSpecialTokens && specialIds.Contains(id))) tokens.Add(t);
        string text = decoder is null ? string.Join(' ', tokens) : string.Concat(decoder.DecodeChain(tokens));
        return cleanUpTokenizationSpaces ?? Config.CleanUpTokenizationSpaces ? Decoder.CleanUp(text) : text;
    }

    /// <summary>A decoder that turns ids into text as they arrive (for streaming generation).</summary>
    public StreamingDecoder CreateStreamingDecoder(bool skipSpecialTokens = true) => new(this, skipSpecialTokens);
}
