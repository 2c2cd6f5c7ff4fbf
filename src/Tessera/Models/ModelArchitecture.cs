using Tessera.Export;
using Tessera.Transformers;
using static TorchSharp.torch;

namespace Tessera.Models;

/// <summary>
/// One architecture as the registry knows it: its <c>model_type</c> value(s), its config record, the model class for
/// each task it supports and, optionally, its ONNX exporter. Built with a fluent chain and handed to
/// <see cref="ModelRegistry.Register{TConfig}"/>:
/// <code>
/// ModelRegistry.Register(new ModelArchitecture&lt;Gpt2Config&gt;("gpt2")
///     .Add(ModelTasks.BaseModel, c => new Gpt2Model(c))
///     .Add(ModelTasks.CausalLM, c => new Gpt2LMHeadModel(c))
///     .WithExporter(DecoderFolderExporter.Instance));
/// </code>
/// </summary>
/// <typeparam name="TConfig">The config record <c>config.json</c> is read into.</typeparam>
public sealed class ModelArchitecture<TConfig> where TConfig : PretrainedConfig
{
    readonly List<(ModelTask Task, Func<PretrainedConfig, nn.Module> Create)> factories = [];

    /// <summary>Starts an architecture read from <c>config.json</c> files whose <c>model_type</c> is one of <paramref name="modelTypes"/>.</summary>
    /// <exception cref="ArgumentException">No model type, or an empty one.</exception>
    public ModelArchitecture(params string[] modelTypes)
    {
        if (modelTypes is not { Length: > 0 } || modelTypes.Any(string.IsNullOrEmpty))
            throw new ArgumentException("an architecture needs at least one non-empty model_type", nameof(modelTypes));
        ModelTypes = modelTypes.ToArray();
    }

    /// <summary>The <c>model_type</c> values of this architecture.</summary>
    public IReadOnlyList<string> ModelTypes { get; }

    /// <summary>The ONNX exporter of model folders of this architecture, or null.</summary>
    public IModelFolderExporter? Exporter { get; private set; }

    internal IReadOnlyList<(ModelTask Task, Func<PretrainedConfig, nn.Module> Create)> Factories => factories;

    internal Func<PretrainedConfig, (IEnumerable<WeightDimension> Dimensions, double Parameters)>? Sizes { get; private set; }

    /// <summary>
    /// Declares how a config sizes the weights, so <see cref="PretrainedModels"/> and <see cref="ModelRegistry.Create{TModel}"/>
    /// can refuse a config before allocating it: <paramref name="dimensions"/> are compared with the checkpoint's header
    /// (the error names the field), and <paramref name="parameters"/> (an estimate is enough; compute it in double so a
    /// hostile config cannot overflow it) with the checkpoint's total and with the machine's memory. The config is
    /// validated before either is called.
    /// </summary>
    /// <returns>This architecture, for chaining.</returns>
    public ModelArchitecture<TConfig> WithSizes(Func<TConfig, IEnumerable<WeightDimension>> dimensions, Func<TConfig, double> parameters)
    {
        ArgumentNullException.ThrowIfNull(dimensions);
        ArgumentNullException.ThrowIfNull(parameters);
        Sizes = config => config is TConfig typed ? (dimensions(typed), parameters(typed)) : ([], 0);
        return this;
    }

    /// <summary>Adds the model class built for <paramref name="task"/> (its constructor from the config, fresh weights).</summary>
    /// <returns>This architecture, for chaining.</returns>
    public ModelArchitecture<TConfig> Add<TModel>(ModelTask<TModel> task, Func<TConfig, TModel> create) where TModel : nn.Module
    {
        ArgumentNullException.ThrowIfNull(task);
        ArgumentNullException.ThrowIfNull(create);
        factories.RemoveAll(f => f.Task == task);
        factories.Add((task, config => create(config as TConfig ?? throw new ArgumentException(
            $"model_type \"{config.ModelType}\" builds from {typeof(TConfig).Name}, got {config.GetType().Name}", nameof(config)))));
        return this;
    }

    /// <summary>Sets the exporter <c>tessera export</c> uses for folders of this architecture.</summary>
    /// <returns>This architecture, for chaining.</returns>
    public ModelArchitecture<TConfig> WithExporter(IModelFolderExporter exporter)
    {
        Exporter = exporter ?? throw new ArgumentNullException(nameof(exporter));
        return this;
    }
}
