using Tessera.Export;
using Tessera.Export.Decoders;
using Tessera.Formats.Onnx;
using Tessera.Tests.Transformers;
using Tessera.Transformers;
using static TorchSharp.torch;

namespace Tessera.Tests.Export;

/// <summary>
/// Exports whose weights go to an external data file: only large tensors move out. Shape constants must stay inline,
/// since ONNX Runtime reads them during shape inference (with everything external, a ~1.5 GB decoder failed to load
/// with a ShapeInferenceError on a Reshape's shape).
/// </summary>
public class ExternalDataExportTests
{
    [Theory]
    [InlineData("llama")]
    [InlineData("gpt2")]
    public void External_data_keeps_small_tensors_inline_and_the_decoder_verifies(string kind)
    {
        using var dir = new ExportTempDir();
        manual_seed(5);
        using CausalLanguageModel model = kind == "llama" ? new LlamaForCausalLM(TinyModels.Llama()) : new Gpt2LMHeadModel(TinyModels.Gpt2());
        model.eval();

        var report = DecoderOnnxExporter.Export(model, dir.Path, new TransformerExportOptions { ExternalData = true });

        Assert.NotNull(report.ExternalDataPath);
        Assert.True(report.DecodeMaxAbs <= 1e-4, $"decode {report.DecodeMaxAbs}");
        var graph = ModelProto.Parser.ParseFrom(File.ReadAllBytes(report.ModelPath)).Graph;
        var external = graph.Initializer.Where(t => t.DataLocation == TensorProto.Types.DataLocation.External).ToList();
        Assert.NotEmpty(external);
        Assert.All(external, t => Assert.True(t.Dims.Aggregate(1L, (a, d) => a * d) * 4 >= OnnxExternalData.InlineBelowBytes / 2, $"{t.Name} [{string.Join(",", t.Dims)}] went out"));
        Assert.All(graph.Initializer.Where(t => t.DataType == (int)TensorProto.Types.DataType.Int64), t => Assert.NotEqual(TensorProto.Types.DataLocation.External, t.DataLocation));
        OnnxChecker.Check(report.ModelPath);
    }

    /// <summary>A decoder over the automatic external-data size (1.5 GB of fp32 weights) exports, verifies and generates.</summary>
    [Fact]
    [Trait("Category", "Slow")]
    public void A_400M_parameter_llama_exports_with_external_data_and_runs()
    {
        using var dir = new ExportTempDir();
        manual_seed(6);
        var config = new LlamaConfig
        {
            VocabSize = 32000, HiddenSize = 1024, IntermediateSize = 2816, NumHiddenLayers = 30, NumAttentionHeads = 16,
            NumKeyValueHeads = 4, MaxPositionEmbeddings = 256, TieWordEmbeddings = false,
        };
        string runtimeFolder;
        using (var model = new LlamaForCausalLM(config))
        {
            model.eval();
            long parameters = model.parameters().Sum(p => p.numel());
            Assert.InRange(parameters, 390_000_000, 420_000_000);

            var report = DecoderOnnxExporter.Export(model, dir.Path); // no option: the size alone decides

            Assert.NotNull(report.ExternalDataPath);
            Assert.True(report.PrefillMaxAbs <= 1e-3 && report.DecodeMaxAbs <= 1e-3, $"prefill {report.PrefillMaxAbs}, decode {report.DecodeMaxAbs}");
            Assert.True(new FileInfo(report.ModelPath).Length < 10_000_000, "the weights should be in the data file");
            runtimeFolder = dir.Path;
        }
        using var lm = Tessera.Runtime.Generation.OrtCausalLM.Load(runtimeFolder);
        int[] ids = Tessera.Text.Generation.CausalLMGeneration.GenerateIds(lm, [1, 2, 3, 4], new Tessera.Text.Generation.GenerationConfig { MaxNewTokens = 3, EosTokenId = System.Text.Json.JsonSerializer.SerializeToElement(Array.Empty<int>()) });
        Assert.Equal(3, ids.Length);
    }
}
