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

    /// <summary>
    /// Label names by class index (<c>id2label</c>: <c>{"0": "cat", "1": "dog"}</c>). The keys must be exactly the indices
    /// 0..n-1 (see <see cref="LabelNames"/>); <see cref="Labels"/> gives them in order.
    /// </summary>
    [JsonPropertyName("id2label")]
    public Dictionary<string, string>? Id2Label { get; init; }

    /// <summary>Class indices by label name (<c>label2id</c>), the inverse of <see cref="Id2Label"/>.</summary>
    [JsonPropertyName("label2id")]
    public Dictionary<string, int>? Label2Id { get; init; }

    /// <summary>Fields of the JSON file that this version does not model; kept so a load/save round trip loses nothing.</summary>
    [JsonExtensionData]
    public Dictionary<string, JsonElement>? ExtensionData { get; set; }

    /// <summary>The class names by index from <see cref="Id2Label"/>; empty when the config has none.</summary>
    /// <exception cref="ArgumentException"><c>id2label</c> breaks the rule of <see cref="LabelNames.FromId2Label"/>.</exception>
    [JsonIgnore]
    public IReadOnlyList<string> Labels => Id2Label is null ? [] : LabelNames.FromId2Label(Id2Label);

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

    /// <summary>The <c>model_type</c> values <see cref="Load"/> understands: the built-ins and those added with <see cref="AutoConfig.Register{TConfig}"/>.</summary>
    public static IReadOnlyList<string> SupportedModelTypes => AutoConfig.ModelTypes;

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
            // diffusers' config.json files have no model_type; their _class_name (e.g. UNet2DModel) is registered as one.
            if (root.TryGetProperty("model_type", out JsonElement mt) && mt.ValueKind == JsonValueKind.String)
                modelType = mt.GetString()!;
            else if (!root.TryGetProperty("model_type", out _) && root.TryGetProperty("_class_name", out JsonElement cn)
                && cn.ValueKind == JsonValueKind.String && AutoConfig.ConfigType(cn.GetString()!) is not null)
                modelType = cn.GetString()!;
            else
                throw new TesseraFormatException(sourceName, $"missing required field \"model_type\" (a string, one of: {string.Join(", ", SupportedModelTypes)})");
            type = AutoConfig.ConfigType(modelType) ?? throw new TesseraFormatException(sourceName,
                $"unsupported model_type \"{modelType}\" (supported: {string.Join(", ", SupportedModelTypes)})");
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
            _ = config.Labels; // the one id2label rule, for every architecture
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

    /// <summary>
    /// Value equality: same record type and the same base fields, with lists, label maps, <c>eos_token_id</c> and the
    /// unknown fields compared by content (derived records add their own fields).
    /// </summary>
    public virtual bool Equals(PretrainedConfig? other)
    {
        if (ReferenceEquals(this, other)) return true;
        if (other is null || EqualityContract != other.EqualityContract) return false;
        return ModelType == other.ModelType && TorchDtype == other.TorchDtype && BosTokenId == other.BosTokenId && PadTokenId == other.PadTokenId
            && SameList(Architectures, other.Architectures) && SameJson(EosTokenId, other.EosTokenId)
            && SameMap(Id2Label, other.Id2Label, string.Equals) && SameMap(Label2Id, other.Label2Id, (a, b) => a == b)
            && SameMap(ExtensionData, other.ExtensionData, JsonElement.DeepEquals);
    }

    /// <inheritdoc/>
    public override int GetHashCode() => HashCode.Combine(EqualityContract, ModelType, Architectures?.Count ?? 0, Id2Label?.Count ?? 0, ExtensionData?.Count ?? 0);

    static bool SameList(IReadOnlyList<string>? a, IReadOnlyList<string>? b) => a is null ? b is null : b is not null && a.SequenceEqual(b);

    static bool SameJson(JsonElement? a, JsonElement? b) => a is null ? b is null : b is not null && JsonElement.DeepEquals(a.Value, b.Value);

    static bool SameMap<TValue>(Dictionary<string, TValue>? a, Dictionary<string, TValue>? b, Func<TValue, TValue, bool> same) =>
        a is null ? b is null : b is not null && a.Count == b.Count && a.All(kv => b.TryGetValue(kv.Key, out TValue? v) && same(kv.Value, v));

    /// <summary>Throws <see cref="ArgumentException"/> naming <paramref name="field"/> unless <paramref name="ok"/>.</summary>
    protected static void Require(bool ok, string field, string message)
    {
        if (!ok) throw new ArgumentException($"\"{field}\": {message}", field);
    }
}
