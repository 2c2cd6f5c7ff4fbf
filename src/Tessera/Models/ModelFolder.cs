using System.Text.Json;
using System.Text.Json.Nodes;
using Tessera.Checkpoints;
using Tessera.Formats;
using TorchSharp;
using static TorchSharp.torch;

namespace Tessera.Models;

/// <summary>
/// A trained model on disk in Hugging Face layout: <c>config.json</c>, <c>model.safetensors</c>,
/// <c>preprocessor_config.json</c> (image normalization) and <c>README.md</c> (the model card).
/// </summary>
public sealed class ModelFolder
{
    /// <summary>Config file name.</summary>
    public const string ConfigFile = "config.json";
    /// <summary>Weights file name.</summary>
    public const string WeightsFile = "model.safetensors";
    /// <summary>Preprocessing file name (HF image processor style).</summary>
    public const string PreprocessorFile = "preprocessor_config.json";
    /// <summary>Model card file name.</summary>
    public const string CardFile = "README.md";

    private ModelFolder(string path, ModelConfig config, ImagePreprocessingConfig preprocessing, IReadOnlyList<string> labels)
    {
        Path = path;
        Config = config;
        Preprocessing = preprocessing;
        Labels = labels;
    }

    /// <summary>The folder.</summary>
    public string Path { get; }
    /// <summary>The architecture config.</summary>
    public ModelConfig Config { get; }
    /// <summary>How images must be prepared for the model.</summary>
    public ImagePreprocessingConfig Preprocessing { get; }
    /// <summary>Class names by index (from <c>id2label</c>), or the indices as text when absent.</summary>
    public IReadOnlyList<string> Labels { get; }

    /// <summary>Writes a model folder. Each file is written atomically; the card is optional.</summary>
    public static void Save(string dir, ModelConfig config, nn.Module model, ImagePreprocessingConfig preprocessing,
        IReadOnlyList<string>? labels = null, ModelCard? card = null)
    {
        Directory.CreateDirectory(dir);
        var json = JsonNode.Parse(config.ToJson())!.AsObject();
        if (labels is not null)
        {
            json["id2label"] = new JsonObject(labels.Select((l, i) => KeyValuePair.Create(i.ToString(), (JsonNode?)l)));
            json["label2id"] = new JsonObject(labels.Select((l, i) => KeyValuePair.Create(l, (JsonNode?)i)));
        }
        json["tessera_version"] = TesseraInfo.Version;
        AtomicFile.WriteAllText(System.IO.Path.Combine(dir, ConfigFile), json.ToJsonString(Indented) + "\n");
        SafeTensorsTorch.Save(System.IO.Path.Combine(dir, WeightsFile), model.state_dict(), new Dictionary<string, string> { ["format"] = "pt" });
        AtomicFile.WriteAllText(System.IO.Path.Combine(dir, PreprocessorFile), JsonSerializer.Serialize(preprocessing, Indented) + "\n");
        card?.Save(System.IO.Path.Combine(dir, CardFile));
    }

    /// <summary>Reads a model folder's config, preprocessing and labels (not the weights).</summary>
    /// <exception cref="TesseraFormatException">A file is missing or malformed; the message names it.</exception>
    public static ModelFolder Open(string dir)
    {
        if (!Directory.Exists(dir)) throw new TesseraFormatException(dir, "model folder does not exist");
        string configPath = System.IO.Path.Combine(dir, ConfigFile);
        if (!File.Exists(configPath)) throw new TesseraFormatException(dir, $"not a model folder: {ConfigFile} is missing");
        var config = ModelConfig.Load(configPath);
        var labels = ReadLabels(configPath);
        string prePath = System.IO.Path.Combine(dir, PreprocessorFile);
        ImagePreprocessingConfig pre;
        try { pre = File.Exists(prePath) ? ImagePreprocessingConfig.FromJson(File.ReadAllText(prePath)) : new(); }
        catch (JsonException e) { throw new TesseraFormatException(prePath, "invalid JSON: " + e.Message, e); }
        return new ModelFolder(dir, config, pre, labels);
    }

    /// <summary>Builds the model and loads its weights (strictly: every tensor must match).</summary>
    public nn.Module<Tensor, Tensor> LoadModel(Device? device = null)
    {
        string weights = System.IO.Path.Combine(Path, WeightsFile);
        if (!File.Exists(weights)) throw new TesseraFormatException(Path, $"{WeightsFile} is missing");
        var model = ModelFactory.Create(Config);
        SafeTensorsTorch.LoadInto(model, weights, strict: true);
        model.eval();
        if (device is not null) model.to(device);
        return model;
    }

    private static IReadOnlyList<string> ReadLabels(string configPath)
    {
        var node = JsonNode.Parse(File.ReadAllText(configPath));
        if (node?["id2label"] is not JsonObject map) return [];
        var labels = new string[map.Count];
        foreach (var (key, value) in map)
        {
            if (!int.TryParse(key, out int i) || i < 0 || i >= labels.Length)
                throw new TesseraFormatException(configPath, $"id2label key '{key}' must be an index from 0 to {labels.Length - 1}");
            labels[i] = value?.GetValue<string>() ?? key;
        }
        return labels;
    }

    private static readonly JsonSerializerOptions Indented = new() { WriteIndented = true };
}
