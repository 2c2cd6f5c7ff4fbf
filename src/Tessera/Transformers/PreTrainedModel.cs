using Tessera.Formats;
using TorchSharp;
using static TorchSharp.torch;

namespace Tessera.Transformers;

/// <summary>
/// Base of the Hugging Face–compatible models: parameter names equal those of the <c>transformers</c> checkpoints of
/// the same architecture, and <see cref="SavePretrained"/> / <see cref="LoadWeights"/> read and write model folders
/// (<c>config.json</c> + <c>model.safetensors</c> or sharded safetensors with <c>model.safetensors.index.json</c>).
/// </summary>
public abstract class PreTrainedModel : nn.Module
{
    /// <summary>Names the module (TorchSharp's module name).</summary>
    protected PreTrainedModel(string name) : base(name) { }

    /// <summary>
    /// The configuration the model was built from; each model also has a <c>Config</c> property of its own config type.
    /// (Not one covariant <c>Config</c>: TorchSharp's <c>Module.to</c> reflects over properties by name and rejects duplicates.)
    /// </summary>
    public abstract PretrainedConfig PretrainedConfig { get; }

    /// <summary>
    /// The attribute that holds the base model inside task heads (<c>transformer</c> for GPT-2, <c>model</c> for
    /// Llama, <c>bert</c> for BERT). Checkpoints saved from a head load into the base model and the other way round by
    /// adding or removing this prefix, as <c>transformers</c> does.
    /// </summary>
    public abstract string BaseModelPrefix { get; }

    /// <summary>
    /// Whether a checkpoint key that matches no parameter is expected and may be dropped silently (old attention-mask
    /// buffers, a tied head saved twice, ...). Unexpected keys are never an error; this only keeps them out of
    /// <see cref="LoadReport.UnexpectedKeys"/>.
    /// </summary>
    public virtual bool IsIgnoredCheckpointKey(string key) => false;

    /// <summary>
    /// Writes <c>config.json</c> and the weights (one <c>model.safetensors</c>, or shards plus
    /// <c>model.safetensors.index.json</c> when larger than <paramref name="maxShardBytes"/>) into <paramref name="folder"/>,
    /// with the HF key names and metadata <c>{"format":"pt"}</c>.
    /// </summary>
    /// <param name="folder">Created if needed.</param>
    /// <param name="maxShardBytes">Largest shard; the default, 5 GB, is that of <c>save_pretrained</c>.</param>
    /// <param name="dtype">Save floating-point weights in this type (e.g. bfloat16); their own type when null.</param>
    public void SavePretrained(string folder, long maxShardBytes = PretrainedWeights.DefaultMaxShardBytes, ScalarType? dtype = null)
    {
        Directory.CreateDirectory(folder);
        PretrainedWeights.Save(this, folder, maxShardBytes, dtype);
        PretrainedConfig config = dtype is { } d
            ? PretrainedConfig with { TorchDtype = PretrainedWeights.TorchDtypeName(d), Dtype = PretrainedConfig.Dtype is null ? null : PretrainedWeights.TorchDtypeName(d) }
            : PretrainedConfig;
        config.Save(Path.Combine(folder, "config.json"));
    }

    /// <summary>Copies the weights of the model folder (or safetensors file) <paramref name="path"/> into this model, one tensor at a time.</summary>
    /// <exception cref="TesseraFormatException">
    /// The checkpoint is invalid, a tensor's shape differs from the parameter's (the message names both), or a
    /// parameter is missing and <see cref="FromPretrainedOptions.AllowMissingKeys"/> is false.
    /// </exception>
    /// <exception cref="FileNotFoundException">The folder holds no safetensors weights.</exception>
    public LoadReport LoadWeights(string path, FromPretrainedOptions? options = null) =>
        PretrainedWeights.LoadInto(this, path, options ?? new FromPretrainedOptions());

    /// <summary>Builds a model from a folder: reads its config, constructs the model, casts and moves it, then loads its weights.</summary>
    internal static TModel Build<TModel, TConfig>(string folder, FromPretrainedOptions? options, Func<TConfig, TModel> create)
        where TModel : PreTrainedModel
        where TConfig : PretrainedConfig
    {
        options ??= new FromPretrainedOptions();
        TConfig config = PretrainedConfig.Load<TConfig>(folder);
        return Build(folder, config, options, create);
    }

    /// <summary>Constructs a model for <paramref name="config"/> and fills it from <paramref name="folder"/>.</summary>
    internal static TModel Build<TModel, TConfig>(string folder, TConfig config, FromPretrainedOptions options, Func<TConfig, TModel> create)
        where TModel : PreTrainedModel
        where TConfig : PretrainedConfig
    {
        TModel model = create(config);
        try
        {
            ScalarType dtype = options.Dtype
                ?? (options.UseConfigDtype ? PretrainedWeights.ParseTorchDtype(config.EffectiveDtype) : null)
                ?? ScalarType.Float32;
            if (dtype != ScalarType.Float32) model.to(dtype);
            if (options.Device is { } device && device.type != DeviceType.CPU) model.to(device);
            model.LoadWeights(folder, options);
            model.eval();
            return model;
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }
}
