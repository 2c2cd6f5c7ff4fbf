using System.Reflection;
using System.Text.Json;
using System.Text.Json.Serialization;
using Tessera.Formats;

namespace Tessera.Transformers;

/// <summary>
/// Base of the Hugging Face model configurations: a <c>config.json</c> as written by <c>transformers</c>. Property
/// names map 1:1 to the JSON keys; fields this version does not model are kept in <see cref="ExtensionData"/> and
/// written back by <see cref="ToJson"/>, so a load/save round trip loses nothing.
/// </summary>
/// <remarks>
/// Dimensions that decide the shapes of the weights are <c>required</c>: a file without them is an error naming the
/// file and the field, never a silently different model. Everything else has the default <c>transformers</c> uses.
/// </remarks>
public abstract record PretrainedConfig
{
    static JsonSerializerOptions WriteOptions => Transformers.HfJson.Write;
    static JsonSerializerOptions ReadOptions => Transformers.HfJson.Read;

    /// <summary>The architecture family, e.g. <c>gpt2</c>, <c>llama</c>, <c>qwen2</c>, <c>mistral</c>, <c>bert</c>.</summary>
    [JsonPropertyName("model_type")]
    [JsonPropertyOrder(-2)]
    public string ModelType { get; init; } = "";

    /// <summary>Class names of the model this config was saved from (<c>architectures</c>), e.g. <c>LlamaForCausalLM</c>.</summary>
    [JsonPropertyName("architectures")]
    [JsonPropertyOrder(-1)]
    public IReadOnlyList<string>? Architectures { get; init; }

    /// <summary>Whether the output embedding shares its weight with the input embedding (<c>tie_word_embeddings</c>, default true as in <c>transformers</c>).</summary>
    [JsonPropertyName("tie_word_embeddings")]
    public virtual bool TieWordEmbeddings { get; init; } = true;

    /// <summary>The dtype the checkpoint was saved in (<c>torch_dtype</c>, e.g. <c>float32</c>, <c>bfloat16</c>); informative.</summary>
    [JsonPropertyName("torch_dtype")]
    public string? TorchDtype { get; init; }

    /// <summary>The same as <see cref="TorchDtype"/> under the name <c>transformers</c> 5 writes (<c>dtype</c>).</summary>
    [JsonPropertyName("dtype")]
    public string? Dtype { get; init; }

    /// <summary>The checkpoint's dtype from either field (<c>torch_dtype</c> first, then <c>dtype</c>), or null.</summary>
    [JsonIgnore]
    public string? EffectiveDtype => TorchDtype ?? Dtype;

    /// <summary>Id of the beginning-of-sequence token (<c>bos_token_id</c>).</summary>
    [JsonPropertyName("bos_token_id")]
    public int? BosTokenId { get; init; }

    /// <summary>Id (or ids) of the end-of-sequence token (<c>eos_token_id</c>: a number or a list).</summary>
    [JsonPropertyName("eos_token_id")]
    public JsonElement? EosTokenId { get; init; }

    /// <summary>Id of the padding token (<c>pad_token_id</c>).</summary>
    [JsonPropertyName("pad_token_id")]
    public int? PadTokenId { get; init; }

    /// <summary>Fields of the JSON file that this version does not model; kept so a load/save round trip loses nothing.</summary>
    [JsonExtensionData]
    public Dictionary<string, JsonElement>? ExtensionData { get; set; }

    /// <summary>The end-of-sequence ids (<c>eos_token_id</c> may be a number or a list); empty when unset.</summary>
    [JsonIgnore]
    public IReadOnlyList<int> EosTokenIds => EosTokenId switch
    {
        { ValueKind: JsonValueKind.Number } e => [e.GetInt32()],
        { ValueKind: JsonValueKind.Array } e => e.EnumerateArray().Select(x => x.GetInt32()).ToArray(),
        _ => [],
    };

    /// <summary>Checks that the values describe a buildable model.</summary>
    /// <exception cref="ArgumentException">A value is out of range or inconsistent; the message names the field.</exception>
    public abstract void Validate();

    /// <summary>Serializes the config (with <c>model_type</c> and unknown fields) as indented JSON.</summary>
    public string ToJson() => JsonSerializer.Serialize(this, GetType(), WriteOptions);

    /// <summary>Writes <see cref="ToJson"/> to <paramref name="path"/> atomically.</summary>
    public void Save(string path) => AtomicFile.WriteAllText(path, ToJson() + "\n");

    /// <summary>The <c>model_type</c> values <see cref="Load"/> understands.</summary>
    public static IReadOnlyList<string> SupportedModelTypes { get; } = ["gpt2", "llama", "qwen2", "mistral", "bert"];

    /// <summary>Reads a Hugging Face <c>config.json</c>, or the one in a model folder, and returns the record its <c>model_type</c> names, validated.</summary>
    /// <param name="path">A <c>config.json</c> file or a folder that holds one.</param>
    /// <exception cref="FileNotFoundException">There is no such file.</exception>
    /// <exception cref="TesseraFormatException">
    /// The file is not JSON, lacks <c>model_type</c> or names one not in <see cref="SupportedModelTypes"/>, misses a
    /// required field or holds an invalid value; the message names the file and the field.
    /// </exception>
    public static PretrainedConfig Load(string path)
    {
        string file = Directory.Exists(path) ? Path.Combine(path, "config.json") : path;
        if (!File.Exists(file)) throw new FileNotFoundException($"{file}: no config.json", file);
        return Parse(File.ReadAllText(file), file);
    }

    /// <summary>Reads a <c>config.json</c> that must describe a <typeparamref name="T"/>; see <see cref="Load"/>.</summary>
    /// <exception cref="TesseraFormatException">As for <see cref="Load"/>, or the file describes another architecture.</exception>
    public static T Load<T>(string path) where T : PretrainedConfig
    {
        PretrainedConfig config = Load(path);
        return config as T ?? throw new TesseraFormatException(path,
            $"model_type \"{config.ModelType}\" is read as {config.GetType().Name}, not {typeof(T).Name}");
    }

    /// <summary>Parses config JSON text; see <see cref="Load"/>.</summary>
    /// <param name="json">The JSON text.</param>
    /// <param name="sourceName">Name used in error messages (a path), or null.</param>
    /// <exception cref="TesseraFormatException">As for <see cref="Load"/>.</exception>
    public static PretrainedConfig Parse(string json, string? sourceName = null)
    {
        Type type;
        string modelType;
        try
        {
            using var doc = JsonDocument.Parse(json, new JsonDocumentOptions { AllowTrailingCommas = true, CommentHandling = JsonCommentHandling.Skip });
            JsonElement root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
                throw new TesseraFormatException(sourceName, $"expected a JSON object, found {root.ValueKind}");
            if (!root.TryGetProperty("model_type", out JsonElement mt) || mt.ValueKind != JsonValueKind.String)
                throw new TesseraFormatException(sourceName, $"missing required field \"model_type\" (a string, one of: {string.Join(", ", SupportedModelTypes)})");
            modelType = mt.GetString()!;
            type = modelType switch
            {
                "gpt2" => typeof(Gpt2Config),
                "llama" or "qwen2" or "mistral" => typeof(LlamaConfig),
                "bert" => typeof(BertConfig),
                _ => throw new TesseraFormatException(sourceName,
                    $"unsupported model_type \"{modelType}\" (supported: {string.Join(", ", SupportedModelTypes)})"),
            };
            foreach (string field in RequiredFields(type))
            {
                if (!root.TryGetProperty(field, out JsonElement v) || v.ValueKind == JsonValueKind.Null)
                    throw new TesseraFormatException(sourceName, $"missing required field \"{field}\" for model_type \"{modelType}\"");
            }
        }
        catch (JsonException e)
        {
            throw new TesseraFormatException(sourceName, $"invalid JSON: {e.Message}", e);
        }

        try
        {
            var config = (PretrainedConfig)(JsonSerializer.Deserialize(json, type, ReadOptions)
                ?? throw new TesseraFormatException(sourceName, "config is null"));
            config.Validate();
            return config;
        }
        catch (JsonException e)
        {
            throw new TesseraFormatException(sourceName, $"invalid {modelType} config{(e.Path is null ? "" : $" at {e.Path}")}: {e.Message}", e);
        }
        catch (ArgumentException e)
        {
            throw new TesseraFormatException(sourceName, $"invalid {modelType} config: {e.Message}", e);
        }
    }

    /// <summary>JSON names of the <c>required</c> properties of <paramref name="type"/>.</summary>
    static IEnumerable<string> RequiredFields(Type type) =>
        type.GetProperties(BindingFlags.Public | BindingFlags.Instance)
            .Where(p => p.CustomAttributes.Any(a => a.AttributeType.FullName == "System.Runtime.CompilerServices.RequiredMemberAttribute")
                || p.IsDefined(typeof(JsonRequiredAttribute), inherit: false))
            .Select(p => p.GetCustomAttribute<JsonPropertyNameAttribute>()?.Name ?? p.Name)
            .Where(n => n != "model_type");

    /// <summary>Throws <see cref="ArgumentException"/> naming <paramref name="field"/> unless <paramref name="ok"/>.</summary>
    protected static void Require(bool ok, string field, string message)
    {
        if (!ok) throw new ArgumentException($"\"{field}\": {message}", field);
    }
}
