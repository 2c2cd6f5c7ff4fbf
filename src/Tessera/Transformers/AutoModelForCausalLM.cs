using Tessera.Formats;

namespace Tessera.Transformers;

/// <summary>Builds the causal language model a folder's <c>config.json</c> describes: <c>gpt2</c> → <see cref="Gpt2LMHeadModel"/>; <c>llama</c>, <c>qwen2</c>, <c>mistral</c> → <see cref="LlamaForCausalLM"/>.</summary>
public static class AutoModelForCausalLM
{
    /// <summary>The <c>model_type</c> values this factory builds.</summary>
    public static IReadOnlyList<string> SupportedModelTypes { get; } = ["gpt2", "llama", "qwen2", "mistral"];

    /// <summary>Reads the config of <paramref name="folder"/>, builds the matching model and loads its weights (in eval mode).</summary>
    /// <exception cref="TesseraFormatException">The config is invalid, its model_type has no causal LM here (the message lists the supported ones), or the weights do not match.</exception>
    /// <exception cref="FileNotFoundException">config.json or the weights are missing.</exception>
    public static CausalLanguageModel FromPretrained(string folder, FromPretrainedOptions? options = null)
    {
        options ??= new FromPretrainedOptions();
        PretrainedConfig config = AutoConfig.FromPretrained(folder);
        return FromConfig(config, folder, options);
    }

    /// <summary>A freshly initialised model for <paramref name="config"/>.</summary>
    /// <exception cref="TesseraFormatException">The config's model_type has no causal LM here.</exception>
    public static CausalLanguageModel FromConfig(PretrainedConfig config) => config switch
    {
        Gpt2Config c => new Gpt2LMHeadModel(c),
        LlamaConfig c => new LlamaForCausalLM(c),
        _ => throw Unsupported(config, null),
    };

    static CausalLanguageModel FromConfig(PretrainedConfig config, string folder, FromPretrainedOptions options) => config switch
    {
        Gpt2Config c => PreTrainedModel.Build(folder, c, options, x => new Gpt2LMHeadModel(x)),
        LlamaConfig c => PreTrainedModel.Build(folder, c, options, x => new LlamaForCausalLM(x)),
        _ => throw Unsupported(config, folder),
    };

    static TesseraFormatException Unsupported(PretrainedConfig config, string? folder) =>
        new(folder is null ? null : Path.Combine(folder, "config.json"),
            $"model_type \"{config.ModelType}\" has no causal language model (supported: {string.Join(", ", SupportedModelTypes)})");
}
