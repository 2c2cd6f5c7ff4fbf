using System.Text.Json;
using System.Text.Json.Serialization;
using Tessera.Formats;

namespace Tessera.Models;

/// <summary>
/// Base of every model configuration: the <c>config.json</c> of a model folder, in Hugging Face style.
/// The <c>model_type</c> field says which architecture (and which derived record) the file describes;
/// fields this version does not know are kept in <see cref="ExtensionData"/> and written back on save.
/// </summary>
public abstract record ModelConfig
{
    static readonly JsonSerializerOptions WriteOptions = new() { WriteIndented = true };
    static readonly JsonSerializerOptions ReadOptions = new() { AllowTrailingCommas = true, ReadCommentHandling = JsonCommentHandling.Skip };

    /// <summary>The architecture name written as <c>model_type</c>: <c>cnn</c>, <c>mlp</c> or <c>resnet</c>.</summary>
    [JsonPropertyName("model_type")]
    [JsonPropertyOrder(-1)]
    public string ModelType { get; }

    /// <summary>Sets the <c>model_type</c> a derived record writes.</summary>
    protected ModelConfig(string modelType) => ModelType = modelType;

    /// <summary>Fields of the JSON file that this version does not model; kept so a load/save round trip loses nothing.</summary>
    [JsonExtensionData]
    public Dictionary<string, JsonElement>? ExtensionData { get; set; }

    /// <summary>Value equality: same record type, same <c>model_type</c> and the same unknown fields (compared as JSON values).</summary>
    public virtual bool Equals(ModelConfig? other)
    {
        if (other is null || EqualityContract != other.EqualityContract || ModelType != other.ModelType) return false;
        var a = ExtensionData ?? [];
        var b = other.ExtensionData ?? [];
        return a.Count == b.Count && a.All(kv => b.TryGetValue(kv.Key, out var v) && JsonElement.DeepEquals(v, kv.Value));
    }

    /// <inheritdoc/>
    public override int GetHashCode() => HashCode.Combine(EqualityContract, ModelType, ExtensionData?.Count ?? 0);

    /// <summary>Checks that the values describe a buildable model.</summary>
    /// <exception cref="ArgumentException">A value is out of range or inconsistent; the message names the field.</exception>
    public abstract void Validate();

    /// <summary>Serializes this config (with <c>model_type</c> and any unknown fields) as indented JSON.</summary>
    public string ToJson() => JsonSerializer.Serialize(this, GetType(), WriteOptions);

    /// <summary>Writes <see cref="ToJson"/> to <paramref name="path"/> atomically (temporary file, then rename).</summary>
    public void Save(string path) => AtomicFile.WriteAllText(path, ToJson() + "\n");

    /// <summary>Reads a <c>config.json</c> and returns the config record its <c>model_type</c> names, validated.</summary>
    /// <param name="configJsonPath">Path of the JSON file.</param>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="TesseraFormatException">
    /// The file is not valid JSON, lacks <c>model_type</c>, names an unknown one, or holds invalid values;
    /// the message names the file.
    /// </exception>
    public static ModelConfig Load(string configJsonPath)
    {
        string json = File.ReadAllText(configJsonPath);
        return Parse(json, configJsonPath);
    }

    /// <summary>Parses config JSON text; see <see cref="Load"/>.</summary>
    /// <param name="json">The JSON text.</param>
    /// <param name="sourceName">Name used in error messages (a path), or null.</param>
    /// <exception cref="TesseraFormatException">As for <see cref="Load"/>.</exception>
    public static ModelConfig Parse(string json, string? sourceName = null)
    {
        string? modelType;
        try
        {
            using var doc = JsonDocument.Parse(json, new JsonDocumentOptions { AllowTrailingCommas = true, CommentHandling = JsonCommentHandling.Skip });
            if (doc.RootElement.ValueKind != JsonValueKind.Object)
                throw new TesseraFormatException(sourceName, $"expected a JSON object, found {doc.RootElement.ValueKind}");
            if (!doc.RootElement.TryGetProperty("model_type", out var mt))
                throw new TesseraFormatException(sourceName, $"missing \"model_type\" (expected one of: {string.Join(", ", KnownModelTypes)})");
            if (mt.ValueKind != JsonValueKind.String)
                throw new TesseraFormatException(sourceName, $"\"model_type\" must be a string, found {mt.ValueKind}");
            modelType = mt.GetString();
        }
        catch (JsonException e)
        {
            throw new TesseraFormatException(sourceName, $"invalid JSON: {e.Message}", e);
        }

        Type type = modelType switch
        {
            CnnConfig.Type => typeof(CnnConfig),
            MlpConfig.Type => typeof(MlpConfig),
            ResNetConfig.Type => typeof(ResNetConfig),
            _ => throw new TesseraFormatException(sourceName,
                $"unknown model_type \"{modelType}\" (expected one of: {string.Join(", ", KnownModelTypes)})"),
        };

        ModelConfig config;
        try
        {
            config = (ModelConfig)(JsonSerializer.Deserialize(json, type, ReadOptions)
                ?? throw new TesseraFormatException(sourceName, "config is null"));
            config.Validate();
        }
        catch (JsonException e)
        {
            throw new TesseraFormatException(sourceName, $"invalid {modelType} config{(e.Path is null ? "" : $" at {e.Path}")}: {e.Message}", e);
        }
        catch (ArgumentException e)
        {
            throw new TesseraFormatException(sourceName, $"invalid {modelType} config: {e.Message}", e);
        }
        return config;
    }

    /// <summary>The <c>model_type</c> values <see cref="Load"/> understands.</summary>
    public static IReadOnlyList<string> KnownModelTypes { get; } = [CnnConfig.Type, MlpConfig.Type, ResNetConfig.Type];

    /// <summary>Throws <see cref="ArgumentException"/> naming <paramref name="field"/> unless <paramref name="ok"/>.</summary>
    protected static void Require(bool ok, string field, string message)
    {
        if (!ok) throw new ArgumentException($"{field}: {message}", field);
    }
}
