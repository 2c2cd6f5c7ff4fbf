using Tessera.Models;

namespace Tessera.Transformers;

/// <summary>
/// Reads a Hugging Face <c>config.json</c> into the record its <c>model_type</c> names, and holds the registry that maps
/// <c>model_type</c> to config records. The built-in architectures register here exactly as a user registers their own
/// (<see cref="Register{TConfig}"/>); the TorchSharp side adds models per task in <c>ModelRegistry</c>.
/// </summary>
public static class AutoConfig
{
    static readonly object Gate = new();
    static readonly Dictionary<string, Type> Types = new(StringComparer.Ordinal);
    static readonly List<string> Order = [];

    static AutoConfig()
    {
        Register<Gpt2Config>("gpt2");
        Register<LlamaConfig>("llama");
        Register<LlamaConfig>("qwen2");
        Register<LlamaConfig>("mistral");
        Register<BertConfig>("bert");
        Register<CnnConfig>(CnnConfig.Type);
        Register<MlpConfig>(MlpConfig.Type);
        Register<ResNetConfig>(ResNetConfig.Type);
        Register<Tessera.Diffusion.UNet2DConfig>(Tessera.Diffusion.UNet2DConfig.Type);
    }

    /// <summary>The config of <paramref name="path"/> (a model folder or a config.json file); see <see cref="PretrainedConfig.Load(string)"/>.</summary>
    /// <exception cref="Tessera.Formats.TesseraFormatException">The file is invalid; the message names the file and the field.</exception>
    /// <exception cref="FileNotFoundException">There is no config.json.</exception>
    public static PretrainedConfig FromPretrained(string path) => PretrainedConfig.Load(path);

    /// <summary>
    /// Makes <see cref="PretrainedConfig.Load(string)"/> read <c>config.json</c> files whose <c>model_type</c> is
    /// <paramref name="modelType"/> as <typeparamref name="TConfig"/>. Registering the same pair again does nothing.
    /// </summary>
    /// <exception cref="ArgumentException"><paramref name="modelType"/> is empty, or already registered with another config type.</exception>
    public static void Register<TConfig>(string modelType) where TConfig : PretrainedConfig => Register(modelType, typeof(TConfig));

    /// <summary>Non-generic form of <see cref="Register{TConfig}"/>.</summary>
    /// <exception cref="ArgumentException">As for <see cref="Register{TConfig}"/>, or <paramref name="configType"/> is not a concrete <see cref="PretrainedConfig"/>.</exception>
    public static void Register(string modelType, Type configType)
    {
        ArgumentException.ThrowIfNullOrEmpty(modelType);
        ArgumentNullException.ThrowIfNull(configType);
        if (!typeof(PretrainedConfig).IsAssignableFrom(configType) || configType.IsAbstract)
            throw new ArgumentException($"{configType.Name} is not a concrete PretrainedConfig record", nameof(configType));
        lock (Gate)
        {
            if (Types.TryGetValue(modelType, out Type? existing))
            {
                if (existing != configType)
                    throw new ArgumentException($"model_type \"{modelType}\" is already registered with {existing.Name}", nameof(modelType));
                return;
            }
            Types[modelType] = configType;
            Order.Add(modelType);
        }
    }

    /// <summary>
    /// A config of <paramref name="modelType"/> with the record's default values (<c>AutoConfig.for_model</c>), e.g.
    /// <c>ForModel("cnn")</c>; the defaults of architectures with required dimensions do not validate.
    /// </summary>
    /// <exception cref="ArgumentException">No config record is registered for <paramref name="modelType"/> (the message lists those that are).</exception>
    public static PretrainedConfig ForModel(string modelType)
    {
        Type type = ConfigType(modelType)
            ?? throw new ArgumentException($"unknown model_type \"{modelType}\" (registered: {string.Join(", ", ModelTypes)})", nameof(modelType));
        var config = (PretrainedConfig)Activator.CreateInstance(type)!;
        return config.ModelType == modelType ? config : config with { ModelType = modelType };
    }

    /// <summary>The registered <c>model_type</c> values, in registration order (built-ins first).</summary>
    public static IReadOnlyList<string> ModelTypes
    {
        get
        {
            lock (Gate) return Order.ToArray();
        }
    }

    /// <summary>The config record registered for <paramref name="modelType"/>, or null.</summary>
    public static Type? ConfigType(string modelType)
    {
        lock (Gate) return Types.GetValueOrDefault(modelType);
    }
}
