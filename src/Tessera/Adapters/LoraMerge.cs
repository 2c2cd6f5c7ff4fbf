using System.Globalization;
using Tessera.Formats;
using Tessera.Models;
using Tessera.Transformers;
using TorchSharp;

namespace Tessera.Adapters;

/// <summary>Merges a saved LoRA adapter into its base model folder and writes a plain model folder (for deployment or ONNX export).</summary>
public static class LoraMerge
{
    /// <summary>
    /// Loads the base model of <paramref name="baseFolder"/> (a sequence classifier for <c>task_type: SEQ_CLS</c> or an encoder,
    /// a causal LM when its model_type has one), applies the adapter of <paramref name="adapterFolder"/>, merges it and saves the result
    /// with <see cref="PreTrainedModel.SavePretrained"/> into <paramref name="outFolder"/>, together with the base
    /// folder's other files (tokenizer, generation config) and a model card of its own (<c>README.md</c>: <c>base_model</c>,
    /// <c>base_model_relation: merge</c>, the adapter and its configuration) in place of the base model's card.
    /// </summary>
    /// <returns>The model's parameter count and the adapted layer count.</returns>
    /// <exception cref="Formats.TesseraFormatException">A folder is invalid, or the adapter does not fit the base (the message names the tensor and shapes).</exception>
    /// <exception cref="FileNotFoundException">A required file is missing.</exception>
    public static (long Parameters, int AdaptedLayers) MergeFolder(string baseFolder, string adapterFolder, string outFolder)
    {
        LoraConfig config = LoraConfig.Load(adapterFolder);
        PretrainedConfig baseConfig = AutoConfig.FromPretrained(baseFolder);
        using PreTrainedModel model = config.TaskType == "SEQ_CLS" || !ModelRegistry.Supports(baseConfig.ModelType, ModelTasks.CausalLM)
            ? AutoModelForSequenceClassification.FromPretrained(baseFolder)
            : AutoModelForCausalLM.FromPretrained(baseFolder);
        LoraModel peft = LoraModel.FromPretrained(model, adapterFolder);
        int layers = peft.Layers.Count;
        peft.MergeAndUnload();
        model.SavePretrained(outFolder);
        string[] weights = [".safetensors", ".bin"];
        foreach (string file in Directory.GetFiles(baseFolder))
        {
            string name = Path.GetFileName(file);
            if (name is "config.json" or "model.safetensors.index.json" || weights.Contains(Path.GetExtension(name))) continue;
            if (name == "README.md") continue; // the base model's card describes the base, not this model
            File.Copy(file, Path.Combine(outFolder, name), overwrite: true);
        }
        long parameters = model.parameters().Sum(p => p.numel());
        Card(baseFolder, adapterFolder, config, layers, parameters).Save(Path.Combine(outFolder, "README.md"));
        return (parameters, layers);
    }

    /// <summary>
    /// The merged model's card: Hugging Face's <c>base_model</c> + <c>base_model_relation: merge</c> metadata, the adapter
    /// it was merged with, and that adapter's <c>adapter_config.json</c> as stored.
    /// </summary>
    static ModelCard Card(string baseFolder, string adapterFolder, LoraConfig config, int layers, long parameters)
    {
        var inv = CultureInfo.InvariantCulture;
        string baseName = Path.TrimEndingDirectorySeparator(baseFolder);
        string adapterName = Path.TrimEndingDirectorySeparator(adapterFolder);
        var card = new ModelCard { Title = $"{Path.GetFileName(baseName)} merged with the LoRA adapter {Path.GetFileName(adapterName)}" };
        card.FrontMatter["base_model"] = baseName;
        card.FrontMatter["base_model_relation"] = "merge";
        card.FrontMatter["tags"] = new List<object?> { "lora", "merged", "tessera" };
        string targets = config.TargetModulesRegex is { } regex ? $"modules matching `{regex}`" : string.Join(", ", (config.TargetModules ?? []).Select(t => $"`{t}`"));
        card.Description = string.Create(inv,
            $"`{baseName}` with the LoRA adapter `{adapterName}` merged into its weights (W + (alpha/r)·B·A, written by `tessera merge`): " +
            $"a plain model folder of {parameters / 1e6:0.00}M parameters that loads without the adapter (transformers, `AutoModelForCausalLM.FromPretrained`, `tessera export`). " +
            $"{layers} layers adapted ({targets}), r = {config.R}, lora_alpha = {config.Alpha}, scaling {config.Scaling:0.####}{(config.UseRslora ? " (rsLoRA)" : "")}. " +
            $"How the base model and the adapter were trained: their own cards (`{baseName}/README.md`, `{adapterName}/README.md`).");
        string stored = Path.Combine(adapterFolder, LoraConfig.FileName);
        card.Sections[LoraConfig.FileName] = "```json\n" + (File.Exists(stored) ? File.ReadAllText(stored).Trim() : config.ToJson()) + "\n```";
        card.CaptureLibraryVersions(typeof(torch).Assembly.GetName().Version?.ToString(3));
        return card;
    }
}
