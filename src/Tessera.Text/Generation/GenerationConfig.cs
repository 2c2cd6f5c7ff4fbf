using System.Text.Json;
using System.Text.Json.Serialization;
using Tessera.Formats;

namespace Tessera.Text.Generation;

/// <summary>
/// How to generate text: Hugging Face's <c>generation_config.json</c>, property for property, plus Tessera's
/// <c>seed</c>. Defaults are those of <c>transformers</c> (greedy, 20 new tokens, top_k 50 when sampling). Unknown
/// fields are kept in <see cref="ExtensionData"/> so a load/save round trip loses nothing. Override single values with
/// <c>with</c>: <c>GenerationConfig.Load(folder) with { DoSample = true, TopP = 0.9 }</c>.
/// </summary>
public sealed record GenerationConfig
{
    /// <summary>The file name <see cref="Load"/> reads and <see cref="Save"/> writes.</summary>
    public const string FileName = "generation_config.json";

    /// <summary>The number of new tokens used when neither <see cref="MaxNewTokens"/> nor <see cref="MaxLength"/> is set (20, as in <c>transformers</c>).</summary>
    public const int DefaultMaxLength = 20;

    static JsonSerializerOptions WriteOptions => Transformers.HfJson.Write;
    static JsonSerializerOptions ReadOptions => Transformers.HfJson.Read;

    /// <summary>Most tokens to generate after the prompt (<c>max_new_tokens</c>); takes precedence over <see cref="MaxLength"/>.</summary>
    [JsonPropertyName("max_new_tokens")]
    public int? MaxNewTokens { get; init; }

    /// <summary>Most tokens of prompt plus generated text (<c>max_length</c>); used when <see cref="MaxNewTokens"/> is null.</summary>
    [JsonPropertyName("max_length")]
    public int? MaxLength { get; init; }

    /// <summary>Sample the next token (<c>do_sample</c>); false picks the most likely token (greedy).</summary>
    [JsonPropertyName("do_sample")]
    public bool DoSample { get; init; }

    /// <summary>Divides the logits before sampling (<c>temperature</c>); below 1 sharpens, above 1 flattens. Ignored when greedy.</summary>
    [JsonPropertyName("temperature")]
    public double Temperature { get; init; } = 1.0;

    /// <summary>Sample only among the <c>top_k</c> most likely tokens (ties at the boundary kept); 0 disables. Ignored when greedy.</summary>
    [JsonPropertyName("top_k")]
    public int TopK { get; init; } = 50;

    /// <summary>Nucleus sampling (<c>top_p</c>): sample from the smallest set of tokens whose probabilities add up to at least this; 1 disables. Ignored when greedy.</summary>
    [JsonPropertyName("top_p")]
    public double TopP { get; init; } = 1.0;

    /// <summary>Penalty on tokens already in the prompt or the output (<c>repetition_penalty</c>, CTRL's rule); 1 disables.</summary>
    [JsonPropertyName("repetition_penalty")]
    public double RepetitionPenalty { get; init; } = 1.0;

    /// <summary>
    /// Id or ids that end a sequence (<c>eos_token_id</c>: a number or a list). Null (unset) means the model's own
    /// (its config.json, then its tokenizer's); an empty list turns EOS off.
    /// </summary>
    [JsonPropertyName("eos_token_id")]
    public JsonElement? EosTokenId { get; init; }

    /// <summary>Id used to left-pad batched prompts and to fill finished rows (<c>pad_token_id</c>); the first EOS id when null.</summary>
    [JsonPropertyName("pad_token_id")]
    public int? PadTokenId { get; init; }

    /// <summary>Id of the beginning-of-sequence token (<c>bos_token_id</c>); an empty prompt starts with it.</summary>
    [JsonPropertyName("bos_token_id")]
    public int? BosTokenId { get; init; }

    /// <summary>Generation stops in a row once its text contains one of these (<c>stop_strings</c>); the text is cut before it.</summary>
    [JsonPropertyName("stop_strings")]
    public IReadOnlyList<string>? StopStrings { get; init; }

    /// <summary>Reuse keys and values of earlier positions (<c>use_cache</c>); false recomputes the whole sequence each step (slow; for tests).</summary>
    [JsonPropertyName("use_cache")]
    public bool UseCache { get; init; } = true;

    /// <summary>
    /// When prompt + <see cref="MaxNewTokens"/> does not fit in the model's context, keep only the last tokens of the
    /// prompt so that it does (left truncation, as Hugging Face calls it); Tessera's addition, written only when true.
    /// False (the default) leaves the prompt whole: generation stops when the context is full, and a prompt that fills
    /// the context is an error.
    /// </summary>
    [JsonPropertyName("truncate_prompt")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)]
    public bool TruncatePrompt { get; init; }

    /// <summary>Seed of the sampling generator (Tessera's addition): the same seed and logits give the same tokens on every back end; null draws a random seed.</summary>
    [JsonPropertyName("seed")]
    public long? Seed { get; init; }

    /// <summary>Fields this version does not model, kept for round trips.</summary>
    [JsonExtensionData]
    public Dictionary<string, JsonElement>? ExtensionData { get; set; }

    /// <summary>The EOS ids from <see cref="EosTokenId"/>; empty when unset.</summary>
    [JsonIgnore]
    public IReadOnlyList<int> EosTokenIds => EosTokenId switch
    {
        { ValueKind: JsonValueKind.Number } e => [e.GetInt32()],
        { ValueKind: JsonValueKind.Array } e => [.. e.EnumerateArray().Select(x => x.GetInt32())],
        _ => [],
    };

    /// <summary>A copy whose <see cref="EosTokenId"/> is <paramref name="ids"/> (a number when there is one, else a list; an empty list turns EOS off).</summary>
    public GenerationConfig WithEosTokenIds(params IReadOnlyList<int> ids) => this with
    {
        EosTokenId = ids.Count == 1 ? JsonSerializer.SerializeToElement(ids[0]) : JsonSerializer.SerializeToElement(ids),
    };

    /// <summary>The pad id in force: <see cref="PadTokenId"/>, else the first EOS id, else 0 (padding is masked, so any id works).</summary>
    [JsonIgnore]
    public int EffectivePadTokenId => PadTokenId ?? (EosTokenIds.Count > 0 ? EosTokenIds[0] : 0);

    /// <summary>The number of tokens to generate after a prompt of <paramref name="promptLength"/> tokens.</summary>
    public int NewTokenBudget(int promptLength) =>
        Math.Max(0, MaxNewTokens ?? (MaxLength ?? DefaultMaxLength + promptLength) - promptLength);

    /// <summary>Checks the values.</summary>
    /// <exception cref="ArgumentException">A value is out of range; the message names the field.</exception>
    public void Validate()
    {
        Require(MaxNewTokens is null or >= 0, "max_new_tokens", $"must not be negative, got {MaxNewTokens}");
        Require(MaxLength is null or >= 0, "max_length", $"must not be negative, got {MaxLength}");
        Require(Temperature > 0 && double.IsFinite(Temperature), "temperature", $"must be positive, got {Temperature}");
        Require(TopK >= 0, "top_k", $"must not be negative, got {TopK}");
        Require(TopP > 0 && TopP <= 1, "top_p", $"must be in (0, 1], got {TopP}");
        Require(RepetitionPenalty > 0 && double.IsFinite(RepetitionPenalty), "repetition_penalty", $"must be positive, got {RepetitionPenalty}");
        Require(EosTokenId is null or { ValueKind: JsonValueKind.Null } || IsTokenId(EosTokenId.Value)
            || EosTokenId is { ValueKind: JsonValueKind.Array } a && a.EnumerateArray().All(IsTokenId),
            "eos_token_id", $"must be a token id (a non-negative integer) or a list of them, got {EosTokenId?.GetRawText()}");
        Require(BosTokenId is null or >= 0, "bos_token_id", $"must not be negative, got {BosTokenId}");
        Require(PadTokenId is null or >= 0, "pad_token_id", $"must not be negative, got {PadTokenId}");
        Require(StopStrings is null || StopStrings.All(s => !string.IsNullOrEmpty(s)), "stop_strings", "must not contain empty strings");
    }

    static bool IsTokenId(JsonElement e) => e.ValueKind == JsonValueKind.Number && e.TryGetInt32(out int id) && id >= 0;

    static void Require(bool ok, string field, string message)
    {
        if (!ok) throw new ArgumentException($"\"{field}\": {message}", field);
    }

    /// <summary>Serializes the config as indented JSON (unknown fields included).</summary>
    public string ToJson() => JsonSerializer.Serialize(this, WriteOptions);

    /// <summary>Parses generation_config.json text.</summary>
    /// <param name="json">The JSON text.</param>
    /// <param name="sourceName">Name used in error messages (a path), or null.</param>
    /// <exception cref="TesseraFormatException">The text is not a valid generation config; the message names the field.</exception>
    public static GenerationConfig Parse(string json, string? sourceName = null)
    {
        try
        {
            var config = JsonSerializer.Deserialize<GenerationConfig>(json, ReadOptions)
                ?? throw new TesseraFormatException(sourceName, "generation config is null");
            config.Validate();
            return config;
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException or FormatException)
        {
            throw new TesseraFormatException(sourceName, $"invalid generation config{(e is JsonException { Path: string p } ? $" at {p}" : "")}: {e.Message}", e);
        }
        catch (ArgumentException e)
        {
            throw new TesseraFormatException(sourceName, $"invalid generation config: {e.Message}", e);
        }
    }

    /// <summary>
    /// The generation defaults of a model folder: its <c>generation_config.json</c> when present, else the token ids of
    /// its <c>config.json</c> (as <c>transformers</c> does for older checkpoints), else the defaults.
    /// </summary>
    /// <param name="folder">A model folder (or a generation_config.json file).</param>
    /// <exception cref="TesseraFormatException">A file exists but is invalid.</exception>
    public static GenerationConfig Load(string folder)
    {
        ArgumentNullException.ThrowIfNull(folder);
        string file = File.Exists(folder) ? folder : Path.Combine(folder, FileName);
        if (File.Exists(file)) return Parse(File.ReadAllText(file), file);
        SpecialTokenIds ids = ModelConfigInfo.Load(folder).SpecialTokenIds;
        var config = new GenerationConfig { BosTokenId = ids.BosTokenId, PadTokenId = ids.PadTokenId };
        config = ids.EosTokenIds.Count > 0 ? config.WithEosTokenIds(ids.EosTokenIds) : config;
        try
        {
            config.Validate();
        }
        catch (ArgumentException e)
        {
            throw new TesseraFormatException(Path.Combine(folder, "config.json"), e.Message, e);
        }
        return config;
    }

    /// <summary>Writes <see cref="ToJson"/> to <c>generation_config.json</c> in <paramref name="folder"/> (created if needed).</summary>
    public void Save(string folder)
    {
        Directory.CreateDirectory(folder);
        AtomicFile.WriteAllText(Path.Combine(folder, FileName), ToJson() + "\n");
    }
}
