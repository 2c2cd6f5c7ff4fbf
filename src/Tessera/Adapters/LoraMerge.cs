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
    /// folder's other files (tokenizer, generation config).
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
            File.Copy(file, Path.Combine(outFolder, name), overwrite: true);
        }
        return (model.parameters().Sum(p => p.numel()), layers);
    }
}
