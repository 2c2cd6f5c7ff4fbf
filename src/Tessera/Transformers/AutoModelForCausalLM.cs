using Tessera.Models;

namespace Tessera.Transformers;

/// <summary>Builds the causal language model a folder's <c>config.json</c> describes through the <see cref="ModelRegistry"/>: <c>gpt2</c> → <see cref="Gpt2LMHeadModel"/>; <c>llama</c>, <c>qwen2</c>, <c>mistral</c> → <see cref="LlamaForCausalLM"/>; or a registered architecture's.</summary>
public static class AutoModelForCausalLM
{
    /// <summary>The <c>model_type</c> values this factory builds (the registry's causal LMs).</summary>
    public static IReadOnlyList<string> SupportedModelTypes => ModelRegistry.ModelTypesFor(ModelTasks.CausalLM);

    /// <summary>Reads the config of <paramref name="folder"/>, builds the matching model and loads its weights (in eval mode).</summary>
    /// <exception cref="Tessera.Formats.TesseraFormatException">The config is invalid, its model_type has no causal LM here (the message lists the supported ones), or the weights do not match.</exception>
    /// <exception cref="FileNotFoundException">config.json or the weights are missing.</exception>
    public static CausalLanguageModel FromPretrained(string folder, FromPretrainedOptions? options = null) =>
        PretrainedModels.FromPretrained(ModelTasks.CausalLM, folder, options);

    /// <summary>A freshly initialised model for <paramref name="config"/>.</summary>
    /// <exception cref="Tessera.Formats.TesseraFormatException">The config's model_type has no causal LM here.</exception>
    public static CausalLanguageModel FromConfig(PretrainedConfig config) => ModelRegistry.Create(ModelTasks.CausalLM, config);
}
