using System.Text.Json;
using Tessera.Formats;
using Tessera.Formats.SafeTensors;
using Tessera.Transformers;
using TorchSharp;
using static TorchSharp.torch;

namespace Tessera.Models;

/// <summary>
/// The one model folder format and its two verbs, for every architecture (cnn, GPT-2, BERT, a user's): a folder in
/// Hugging Face layout with <c>config.json</c> (a <see cref="PretrainedConfig"/> with <c>model_type</c>) and the weights
/// as <c>model.safetensors</c> (or shards listed in <c>model.safetensors.index.json</c>) under the module's own parameter
/// names, so PyTorch / <c>transformers</c> modules with the same names load them unchanged.
/// </summary>
public static class PretrainedModels
{
    /// <summary>Config file name.</summary>
    public const string ConfigFile = "config.json";

    /// <summary>Weights file name of a single-file checkpoint.</summary>
    public const string WeightsFile = PretrainedWeights.WeightsName;

    /// <summary><c>config.json</c> key with the Tessera version that wrote the folder.</summary>
    public const string VersionKey = "tessera_version";

    /// <summary>
    /// Reads the config of a model folder; the <c>model_type</c> picks the record through <see cref="AutoConfig"/>.
    /// </summary>
    /// <exception cref="TesseraFormatException">The folder does not exist, has no config.json, or the config is invalid; the message names the folder or file.</exception>
    public static PretrainedConfig ReadConfig(string folder)
    {
        ArgumentException.ThrowIfNullOrEmpty(folder);
        if (!Directory.Exists(folder)) throw new TesseraFormatException(folder, "model folder does not exist");
        string path = Path.Combine(folder, ConfigFile);
        if (!File.Exists(path)) throw new TesseraFormatException(folder, $"not a model folder: {ConfigFile} is missing");
        return PretrainedConfig.Load(path);
    }

    /// <summary>
    /// Reads the config of <paramref name="folder"/>, builds the <paramref name="task"/> model its <c>model_type</c> has in
    /// the <see cref="ModelRegistry"/>, and loads the weights (in eval mode).
    /// </summary>
    /// <exception cref="TesseraFormatException">The config is invalid, its model_type has no model for the task, or the weights do not match (see <see cref="PretrainedWeights.LoadInto(nn.Module, string, FromPretrainedOptions?)"/>).</exception>
    /// <exception cref="FileNotFoundException">config.json or the weights are missing.</exception>
    public static TModel FromPretrained<TModel>(ModelTask<TModel> task, string folder, FromPretrainedOptions? options = null) where TModel : nn.Module =>
        FromPretrained(task, folder, AutoConfig.FromPretrained(folder), options);

    /// <summary>As <see cref="FromPretrained{TModel}(ModelTask{TModel}, string, FromPretrainedOptions?)"/> with a config given in code (e.g. with new labels) instead of the folder's.</summary>
    public static TModel FromPretrained<TModel>(ModelTask<TModel> task, string folder, PretrainedConfig config, FromPretrainedOptions? options = null) where TModel : nn.Module
    {
        ArgumentNullException.ThrowIfNull(task);
        ArgumentNullException.ThrowIfNull(config);
        return Build(folder, config, options, () => ModelRegistry.Create(task, config, Path.Combine(folder, ConfigFile)));
    }

    /// <summary>Builds a model of a known class (<paramref name="create"/>) from the folder's config, which must be a <typeparamref name="TConfig"/>, and loads the weights.</summary>
    /// <exception cref="TesseraFormatException">The config is invalid or describes another architecture, or the weights do not match.</exception>
    /// <exception cref="FileNotFoundException">config.json or the weights are missing.</exception>
    public static TModel FromPretrained<TModel, TConfig>(string folder, Func<TConfig, TModel> create, FromPretrainedOptions? options = null)
        where TModel : nn.Module
        where TConfig : PretrainedConfig
    {
        ArgumentNullException.ThrowIfNull(create);
        TConfig config = PretrainedConfig.Load<TConfig>(folder);
        return Build(folder, config, options, () => create(config));
    }

    static TModel Build<TModel>(string folder, PretrainedConfig config, FromPretrainedOptions? options, Func<TModel> create) where TModel : nn.Module
    {
        options ??= new FromPretrainedOptions();
        // Headers first: a missing or corrupt checkpoint fails before the model is allocated.
        IReadOnlyDictionary<string, (string File, SafeTensorInfo Info)> index = PretrainedWeights.ReadIndex(folder);
        // Then the sizes the config implies against those headers, before any parameter exists.
        ModelRegistry.CheckSizes(config, Path.Combine(folder, ConfigFile), index, options.AllowMissingKeys);
        TModel model = create();
        try
        {
            ScalarType dtype = options.Dtype
                ?? (options.UseConfigDtype ? PretrainedWeights.ParseTorchDtype(config.EffectiveDtype) : null)
                ?? ScalarType.Float32;
            if (dtype != ScalarType.Float32) model.to(dtype);
            if (options.Device is { } device && device.type != DeviceType.CPU) model.to(device);
            PretrainedWeights.LoadInto(model, folder, index, options);
            model.eval();
            return model;
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Writes <paramref name="model"/> as a model folder: <c>config.json</c> (<paramref name="config"/> plus
    /// <c>tessera_version</c>, and <c>torch_dtype</c> when <paramref name="dtype"/> is given) and its state_dict as
    /// <c>model.safetensors</c> with metadata <c>{"format":"pt"}</c>, or as shards plus <c>model.safetensors.index.json</c>
    /// when larger than <paramref name="maxShardBytes"/>. Each file is written atomically.
    /// </summary>
    /// <param name="model">The module whose state_dict is saved.</param>
    /// <param name="config">Its config.</param>
    /// <param name="folder">Created if needed.</param>
    /// <param name="maxShardBytes">Largest shard; the default, 5 GB, is that of <c>save_pretrained</c>.</param>
    /// <param name="dtype">Save floating-point weights in this type (e.g. bfloat16); their own type when null.</param>
    public static void SavePretrained(nn.Module model, PretrainedConfig config, string folder, long maxShardBytes = PretrainedWeights.DefaultMaxShardBytes, ScalarType? dtype = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(config);
        ArgumentException.ThrowIfNullOrEmpty(folder);
        Directory.CreateDirectory(folder);
        PretrainedWeights.Save(model, folder, maxShardBytes, dtype);
        var extension = new Dictionary<string, JsonElement>(config.ExtensionData ?? [])
        {
            [VersionKey] = JsonSerializer.SerializeToElement(TesseraInfo.Version),
        };
        PretrainedConfig saved = config with { ExtensionData = extension };
        if (dtype is { } d) saved = saved with { TorchDtype = PretrainedWeights.TorchDtypeName(d), Dtype = saved.Dtype is null ? null : PretrainedWeights.TorchDtypeName(d) };
        saved.Save(Path.Combine(folder, ConfigFile));
    }

    /// <summary>Writes <paramref name="model"/> and its own config as a model folder; see <see cref="SavePretrained(nn.Module, PretrainedConfig, string, long, ScalarType?)"/>.</summary>
    public static void SavePretrained<TModel>(this TModel model, string folder, long maxShardBytes = PretrainedWeights.DefaultMaxShardBytes, ScalarType? dtype = null)
        where TModel : nn.Module, IPretrainedModel =>
        SavePretrained(model, model.PretrainedConfig, folder, maxShardBytes, dtype);
}
