using Tessera.Export;
using Tessera.Export.Decoders;
using Tessera.Runtime.Quantization;
using Tessera.Transformers;
using static TorchSharp.torch;

namespace Tessera.Tests.Export;

/// <summary>
/// int8 must make a GPT-2-vocabulary model smaller: the tied embedding (read by Gather and by the head) stays one
/// float table instead of gaining an int8 copy (which made such models 1.15-1.24x larger).
/// </summary>
public class TiedEmbeddingQuantizationTests
{
    [Theory]
    [InlineData(QuantizedMatMulForm.DynamicQuantizeMatMul)]
    [InlineData(QuantizedMatMulForm.MatMulNBits)]
    public void A_tied_head_stays_float_and_the_int8_file_is_smaller(QuantizedMatMulForm form)
    {
        using var dir = new ExportTempDir();
        manual_seed(7);
        using var model = new Gpt2LMHeadModel(new Gpt2Config { VocabSize = 5000, NPositions = 32, NEmbd = 64, NLayer = 2, NHead = 2 });
        model.eval();
        var export = DecoderOnnxExporter.Export(model, dir.Path, new TransformerExportOptions { Verify = false });
        string int8 = dir.File("model.int8.onnx");

        var report = DynamicQuantizer.Quantize(export.ModelPath, int8, new DynamicQuantizationOptions { Form = form });

        Assert.Contains(report.SkippedNodes, s => s.Contains("tied embedding", StringComparison.Ordinal));
        Assert.True(report.NodesQuantized >= 8, $"{report.NodesQuantized} nodes quantized"); // 4 projections per layer
        Assert.True(report.OutputFileBytes < report.InputFileBytes, $"{report.InputFileBytes} -> {report.OutputFileBytes} bytes");
        var graph = Formats.Onnx.ModelProto.Parser.ParseFrom(File.ReadAllBytes(int8)).Graph;
        Assert.Single(graph.Initializer, t => t.Name.Contains("wte", StringComparison.Ordinal));
    }

    [Fact]
    public void Quantizing_shared_weights_on_request_gives_the_int8_head_back()
    {
        using var dir = new ExportTempDir();
        manual_seed(8);
        using var model = new Gpt2LMHeadModel(new Gpt2Config { VocabSize = 5000, NPositions = 32, NEmbd = 64, NLayer = 2, NHead = 2 });
        model.eval();
        var export = DecoderOnnxExporter.Export(model, dir.File("fp32"), new TransformerExportOptions { Verify = false });
        var kept = DynamicQuantizer.Quantize(export.ModelPath, dir.File("kept.onnx"), new DynamicQuantizationOptions());
        var shared = DynamicQuantizer.Quantize(export.ModelPath, dir.File("shared.onnx"), new DynamicQuantizationOptions { QuantizeSharedWeights = true });
        Assert.Equal(kept.NodesQuantized + 1, shared.NodesQuantized);
        Assert.True(shared.OutputFileBytes > kept.OutputFileBytes);
    }
}
