using Tessera.Export;
using Tessera.Formats;
using Tessera.Formats.SafeTensors;
using Tessera.Transformers;
using static TorchSharp.torch;

namespace Tessera.Models;

/// <summary>
/// The one architecture registry: <c>model_type</c> → model class per <see cref="ModelTask"/> and ONNX exporter (the
/// config record is registered with <see cref="AutoConfig"/>, which needs no TorchSharp). The Auto classes,
/// <see cref="PretrainedModels"/>, the exporters and the CLI look architectures up here; the built-ins register through
/// <see cref="Register{TConfig}"/> exactly as a user's architecture does.
/// </summary>
public static class ModelRegistry
{
    static readonly object Gate = new();
    static readonly Dictionary<(string ModelType, ModelTask Task), Func<PretrainedConfig, nn.Module>> Factories = new();
    static readonly Dictionary<string, IModelFolderExporter> Exporters = new(StringComparer.Ordinal);
    static readonly Dictionary<string, Func<PretrainedConfig, (IEnumerable<WeightDimension> Dimensions, double Parameters)>> Sizes = new(StringComparer.Ordinal);
    static readonly List<string> Order = [];

    static ModelRegistry() => BuiltInArchitectures.Register();

    /// <summary>
    /// Registers <paramref name="architecture"/>: its config record with <see cref="AutoConfig.Register{TConfig}"/>, its
    /// model classes per task and its exporter. A task or exporter registered before for the same <c>model_type</c> is replaced.
    /// </summary>
    /// <exception cref="ArgumentException">A <c>model_type</c> is already registered with another config record.</exception>
    public static void Register<TConfig>(ModelArchitecture<TConfig> architecture) where TConfig : PretrainedConfig
    {
        ArgumentNullException.ThrowIfNull(architecture);
        lock (Gate)
        {
            foreach (string modelType in architecture.ModelTypes)
            {
                AutoConfig.Register<TConfig>(modelType);
                foreach (var (task, create) in architecture.Factories) Factories[(modelType, task)] = create;
                if (architecture.Exporter is { } exporter) Exporters[modelType] = exporter;
                if (architecture.Sizes is { } sizes) Sizes[modelType] = sizes;
                if (!Order.Contains(modelType)) Order.Add(modelType);
            }
        }
    }

    /// <summary>The <c>model_type</c> values that have a model for <paramref name="task"/>, in registration order.</summary>
    public static IReadOnlyList<string> ModelTypesFor(ModelTask task)
    {
        ArgumentNullException.ThrowIfNull(task);
        lock (Gate) return Order.Where(t => Factories.ContainsKey((t, task))).ToArray();
    }

    /// <summary>Whether <paramref name="modelType"/> has a model for <paramref name="task"/>.</summary>
    public static bool Supports(string modelType, ModelTask task)
    {
        lock (Gate) return Factories.ContainsKey((modelType, task));
    }

    /// <summary>The ONNX exporter registered for <paramref name="modelType"/>, or null.</summary>
    public static IModelFolderExporter? Exporter(string modelType)
    {
        lock (Gate) return Exporters.GetValueOrDefault(modelType);
    }

    /// <summary>
    /// Refuses a config whose model would not fit: against <paramref name="index"/> (a checkpoint's header) when given,
    /// and against the machine's memory always. Architectures registered without <see cref="ModelArchitecture{TConfig}.WithSizes"/> pass.
    /// </summary>
    /// <exception cref="TesseraFormatException">The config does not match the checkpoint or describes a model larger than memory; the message names the config file and field.</exception>
    internal static void CheckSizes(PretrainedConfig config, string? configPath, IReadOnlyDictionary<string, (string File, SafeTensorInfo Info)>? index, bool allowMissingKeys = false)
    {
        Func<PretrainedConfig, (IEnumerable<WeightDimension> Dimensions, double Parameters)>? sizes;
        lock (Gate) sizes = Sizes.GetValueOrDefault(config.ModelType);
        if (sizes is null) return;
        config.Validate();
        var (dimensions, parameters) = sizes(config);
        if (index is not null) ConfigSizeCheck.AgainstCheckpoint(configPath ?? PretrainedModels.ConfigFile, index, dimensions, parameters, allowMissingKeys);
        ConfigSizeCheck.AgainstMemory(configPath, parameters);
    }

    /// <summary>A freshly initialised <paramref name="task"/> model for <paramref name="config"/> (on the CPU, in training mode).</summary>
    /// <param name="task">What the model is for.</param>
    /// <param name="config">The architecture; its <c>model_type</c> picks the class, which validates it.</param>
    /// <param name="configPath">The file the config came from, for error messages; null when built in code.</param>
    /// <exception cref="TesseraFormatException">The <c>model_type</c> has no model for this task (the message lists those that do).</exception>
    /// <exception cref="ArgumentException">The config is invalid.</exception>
    public static TModel Create<TModel>(ModelTask<TModel> task, PretrainedConfig config, string? configPath = null) where TModel : nn.Module
    {
        ArgumentNullException.ThrowIfNull(task);
        ArgumentNullException.ThrowIfNull(config);
        Func<PretrainedConfig, nn.Module>? create;
        lock (Gate) create = Factories.GetValueOrDefault((config.ModelType, task));
        if (create is null)
            throw new TesseraFormatException(configPath,
                $"model_type \"{config.ModelType}\" has no {task.Name} (supported: {string.Join(", ", ModelTypesFor(task))})");
        CheckSizes(config, configPath, null);
        nn.Module model = create(config);
        if (model is TModel typed) return typed;
        model.Dispose();
        throw new InvalidOperationException($"the {task.Name} registered for model_type \"{config.ModelType}\" built a {model.GetType().Name}, not a {typeof(TModel).Name}");
    }
}
