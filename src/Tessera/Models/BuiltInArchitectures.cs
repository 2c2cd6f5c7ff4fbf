using Tessera.Export;
using Tessera.Export.Decoders;
using Tessera.Export.Encoders;
using Tessera.Transformers;

namespace Tessera.Models;

/// <summary>
/// The architectures Tessera ships, registered through the same public <see cref="ModelRegistry.Register{TConfig}"/>
/// call a user makes for their own: one statement per architecture.
/// </summary>
internal static class BuiltInArchitectures
{
    public static void Register()
    {
        ModelRegistry.Register(new ModelArchitecture<Gpt2Config>("gpt2")
            .Add(ModelTasks.BaseModel, c => new Gpt2Model(c))
            .Add(ModelTasks.CausalLM, c => new Gpt2LMHeadModel(c))
            .WithSizes(BuiltInSizes.Gpt2, BuiltInSizes.Gpt2Parameters)
            .WithExporter(DecoderFolderExporter.Instance));

        ModelRegistry.Register(new ModelArchitecture<LlamaConfig>("llama", "qwen2", "mistral")
            .Add(ModelTasks.BaseModel, c => new LlamaModel(c))
            .Add(ModelTasks.CausalLM, c => new LlamaForCausalLM(c))
            .WithSizes(BuiltInSizes.Llama, BuiltInSizes.LlamaParameters)
            .WithExporter(DecoderFolderExporter.Instance));

        ModelRegistry.Register(new ModelArchitecture<BertConfig>("bert")
            .Add(ModelTasks.BaseModel, c => new BertModel(c))
            .Add(ModelTasks.MaskedLM, c => new BertForMaskedLM(c))
            .Add(ModelTasks.SequenceClassification, c => new BertForSequenceClassification(c))
            .WithSizes(BuiltInSizes.Bert, BuiltInSizes.BertParameters)
            .WithExporter(EncoderFolderExporter.Instance));

        ModelRegistry.Register(new ModelArchitecture<CnnConfig>(CnnConfig.Type)
            .Add(ModelTasks.ImageClassification, c => new Cnn(c))
            .WithSizes(BuiltInSizes.Cnn, BuiltInSizes.CnnParameters)
            .WithExporter(ImageClassifierExporter.For<CnnConfig>((c, _) => [1, c.InChannels, c.ImageSize, c.ImageSize])));

        ModelRegistry.Register(new ModelArchitecture<MlpConfig>(MlpConfig.Type)
            .Add(ModelTasks.ImageClassification, c => new Mlp(c))
            .WithSizes(BuiltInSizes.Mlp, BuiltInSizes.MlpParameters)
            .WithExporter(ImageClassifierExporter.For<MlpConfig>((m, pre) => (long)pre.Channels * pre.Height * pre.Width == m.InputSize
                ? [1, pre.Channels, pre.Height, pre.Width]
                : [1, m.InputSize])));

        ModelRegistry.Register(new ModelArchitecture<ResNetConfig>(ResNetConfig.Type)
            .Add(ModelTasks.ImageClassification, c => new ResNet(c))
            .WithSizes(BuiltInSizes.ResNet, BuiltInSizes.ResNetParameters)
            .WithExporter(ImageClassifierExporter.For<ResNetConfig>((r, pre) => [1, r.InChannels, pre.Height, pre.Width])));

        ModelRegistry.Register(new ModelArchitecture<Tessera.Diffusion.UNet2DConfig>(Tessera.Diffusion.UNet2DConfig.Type)
            .Add(ModelTasks.Denoising, c => new Tessera.Diffusion.UNet2DModel(c))
            .WithExporter(Tessera.Export.Diffusion.UNet2DExporter.Instance));
    }
}
