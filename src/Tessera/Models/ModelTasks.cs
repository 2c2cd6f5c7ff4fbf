using Tessera.Transformers;
using static TorchSharp.torch;

namespace Tessera.Models;

/// <summary>The tasks of the built-in architectures, as in <c>transformers</c>' Auto classes.</summary>
public static class ModelTasks
{
    /// <summary>The bare model without a task head (<see cref="AutoModel"/>).</summary>
    public static ModelTask<PreTrainedModel> BaseModel { get; } = new("base model");

    /// <summary>Next-token prediction (<see cref="AutoModelForCausalLM"/>).</summary>
    public static ModelTask<CausalLanguageModel> CausalLM { get; } = new("causal language model");

    /// <summary>Masked-token prediction (<see cref="AutoModelForMaskedLM"/>).</summary>
    public static ModelTask<PreTrainedModel> MaskedLM { get; } = new("masked language model");

    /// <summary>One label per text (<see cref="AutoModelForSequenceClassification"/>).</summary>
    public static ModelTask<PreTrainedModel> SequenceClassification { get; } = new("sequence classifier");

    /// <summary>Images [batch, C, H, W] to logits [batch, classes] (<see cref="AutoModelForImageClassification"/>).</summary>
    public static ModelTask<nn.Module<Tensor, Tensor>> ImageClassification { get; } = new("image classifier");

    /// <summary>Denoising UNets of diffusion pipelines: (sample [batch, C, H, W], timestep, class labels or null) to the model output (<see cref="Tessera.Diffusion.UNet2DModel"/>).</summary>
    public static ModelTask<nn.Module<Tensor, Tensor, Tensor?, Tensor>> Denoising { get; } = new("denoising UNet");
}
