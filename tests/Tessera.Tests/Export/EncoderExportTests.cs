using Microsoft.ML.OnnxRuntime;
using Tessera.Export;
using Tessera.Export.Encoders;
using Tessera.Tests.Transformers;
using Tessera.Transformers;
using static TorchSharp.torch;

namespace Tessera.Tests.Export;

public class EncoderExportTests
{
    static T Tiny<T>(Func<BertConfig, T> create, int seed) where T : PreTrainedModel
    {
        manual_seed(seed);
        var model = create(TinyModels.Bert());
        TinyModels.Randomize(model, seed);
        model.eval();
        return model;
    }

    [Fact]
    public void Bert_model_exports_hidden_states_and_pooler_matching_TorchSharp()
    {
        using var dir = new ExportTempDir();
        using var model = Tiny(c => new BertModel(c), 1);
        var report = EncoderOnnxExporter.Export(model, dir.Path);
        Assert.Equal(["last_hidden_state", "pooler_output"], report.OutputNames);
        Assert.True(report.MaxAbs <= 1e-4, $"max abs {report.MaxAbs}");
        OnnxChecker.Check(report.ModelPath);
        using var session = new InferenceSession(report.ModelPath);
        Assert.Equal(["input_ids", "attention_mask", "token_type_ids"], session.InputNames);
        Assert.Equal([-1, -1, 32], session.OutputMetadata["last_hidden_state"].Dimensions);
    }

    [Fact]
    public void Bert_export_declares_the_requested_opset_and_still_matches_TorchSharp()
    {
        using var dir = new ExportTempDir();
        using var model = Tiny(c => new BertModel(c), 3);
        var report = EncoderOnnxExporter.Export(model, dir.Path, new TransformerExportOptions { Opset = 18 });
        Assert.True(report.MaxAbs <= 1e-4, $"max abs {report.MaxAbs}");
        var graph = Formats.Onnx.ModelProto.Parser.ParseFrom(File.ReadAllBytes(report.ModelPath));
        Assert.Equal(18, graph.OpsetImport.Single(o => o.Domain == "").Version);
    }

    [Fact]
    public void Bert_masked_LM_exports_logits_matching_TorchSharp()
    {
        using var dir = new ExportTempDir();
        using var model = Tiny(c => new BertForMaskedLM(c), 2);
        var report = EncoderOnnxExporter.Export(model, dir.Path);
        Assert.Equal(["logits"], report.OutputNames);
        Assert.True(report.MaxAbs <= 1e-4, $"max abs {report.MaxAbs}");
        OnnxChecker.Check(report.ModelPath);
    }

    [Fact]
    public void Bert_sequence_classification_exports_logits_matching_TorchSharp()
    {
        using var dir = new ExportTempDir();
        using var model = Tiny(c => new BertForSequenceClassification(c), 3);
        var report = EncoderOnnxExporter.Export(model, dir.Path);
        Assert.True(report.MaxAbs <= 1e-4, $"max abs {report.MaxAbs}");
        OnnxChecker.Check(report.ModelPath);
        using var session = new InferenceSession(report.ModelPath);
        Assert.Equal([-1, 3], session.OutputMetadata["logits"].Dimensions);
    }
}
