using System.Text.Json;
using System.Text.Json.Nodes;

using Tessera.Formats;
using Tessera.Transformers;

namespace Tessera.Runtime;

/// <summary>Finds the .onnx file for a path and reads a model folder's preprocessing and labels.</summary>
internal sealed record ModelFolderInfo(string ModelPath, ImagePreprocessingConfig? Preprocessing, IReadOnlyList<string>? Labels)
{
    public const string PreprocessorFile = "preprocessor_config.json";
    public const string ConfigFile = "config.json";

    public static ModelFolderInfo Resolve(string pathOrFolder)
    {
        if (Directory.Exists(pathOrFolder))
        {
            string model = OnnxModel.FindModelFile(pathOrFolder)
                ?? throw new OnnxModelException(pathOrFolder, $"model folder has no {OnnxModel.ModelFileName} (nor {OnnxModel.GraphSubfolder}/{OnnxModel.ModelFileName}; export the model first)",
                    new FileNotFoundException(null, Path.Combine(pathOrFolder, OnnxModel.ModelFileName)));
            string pre = Path.Combine(pathOrFolder, PreprocessorFile);
            string config = Path.Combine(pathOrFolder, ConfigFile);
            return new ModelFolderInfo(model,
                File.Exists(pre) ? ParsePreprocessing(pre, File.ReadAllText(pre)) : null,
                File.Exists(config) ? LabelsFromConfig(config) : null);
        }
        if (!File.Exists(pathOrFolder))
            throw new OnnxModelException(pathOrFolder, "file not found", new FileNotFoundException(null, pathOrFolder));
        return new ModelFolderInfo(pathOrFolder, null, null);
    }

    public static ImagePreprocessingConfig? PreprocessingFromMetadata(string path, IReadOnlyDictionary<string, string> metadata) =>
        metadata.TryGetValue(OnnxModel.PreprocessingMetadataKey, out var json) ? ParsePreprocessing(path, json, OnnxModel.PreprocessingMetadataKey) : null;

    public static IReadOnlyList<string> LabelsFromMetadata(string path, IReadOnlyDictionary<string, string> metadata)
    {
        if (!metadata.TryGetValue(OnnxModel.LabelsMetadataKey, out var json)) return [];
        try
        {
            return ParseLabels(JsonNode.Parse(json), path, OnnxModel.LabelsMetadataKey);
        }
        catch (JsonException e)
        {
            throw new OnnxModelException(path, $"metadata '{OnnxModel.LabelsMetadataKey}' is not valid JSON: {e.Message}", e);
        }
    }

    static ImagePreprocessingConfig ParsePreprocessing(string path, string json, string? field = null)
    {
        try
        {
            return ImagePreprocessingConfig.FromJson(json);
        }
        catch (JsonException e)
        {
            string where = field is null ? "" : $"metadata '{field}': ";
            throw new OnnxModelException(path, $"{where}invalid preprocessing config: {e.Message}", e);
        }
    }

    static IReadOnlyList<string>? LabelsFromConfig(string configPath)
    {
        try
        {
            var node = JsonNode.Parse(File.ReadAllText(configPath));
            return node?["id2label"] is { } map ? ParseLabels(map, configPath, "id2label") : null;
        }
        catch (JsonException e)
        {
            throw new OnnxModelException(configPath, $"invalid JSON: {e.Message}", e);
        }
    }

    /// <summary>Labels from an id2label object (<c>{"0": "T-shirt", ...}</c>) or a plain array of names.</summary>
    static string[] ParseLabels(JsonNode? node, string path, string field)
    {
        switch (node)
        {
            case JsonArray array:
                return array.Select((n, i) => n?.GetValue<string>() ?? throw new OnnxModelException(path, $"{field}[{i}] is null")).ToArray();
            case JsonObject map:
                try
                {
                    // The one id2label rule of every config.json (Tessera.Text).
                    return LabelNames.FromId2Label(map.ToDictionary(kv => kv.Key, kv => kv.Value?.GetValue<string>()!));
                }
                catch (ArgumentException e)
                {
                    throw new OnnxModelException(path, field == "id2label" ? e.Message : $"{field}: {e.Message}", e);
                }
            default:
                throw new OnnxModelException(path, $"{field} must be an object of index -> name or an array of names");
        }
    }
}
