using Microsoft.ML.OnnxRuntime;
using Tessera.Export;
using Tessera.Export.Decoders;
using Tessera.Tests.Transformers;
using Tessera.Transformers;
using static TorchSharp.torch;

namespace Tessera.Tests.Export;

public class DecoderExportTests
{
    static Gpt2LMHeadModel TinyGpt2(int seed = 1)
    {
        manual_seed(seed);
        var model = new Gpt2LMHeadModel(TinyModels.Gpt2());
        TinyModels.Randomize(model, seed);
        model.eval();
        return model;
    }

    static LlamaForCausalLM TinyLlama(int seed = 2, bool tied = false)
    {
        manual_seed(seed);
        var model = new LlamaForCausalLM(TinyModels.Llama() with { TieWordEmbeddings = tied });
        TinyModels.Randomize(model, seed);
        model.eval();
        return model;
    }

    [Fact]
    public void Gpt2_export_matches_TorchSharp_on_prefill_and_decode()
    {
        using var dir = new ExportTempDir();
        using var model = TinyGpt2();
        var report = DecoderOnnxExporter.Export(model, dir.Path);
        Assert.True(report.PrefillMaxAbs <= 1e-4, $"prefill {report.PrefillMaxAbs}");
        Assert.True(report.DecodeMaxAbs <= 1e-4, $"decode {report.DecodeMaxAbs}");
        Assert.Equal(2, report.NumLayers);
        Assert.Equal(4, report.KeyValueHeads);
        Assert.True(File.Exists(dir.File("config.json")));
        OnnxChecker.Check(report.ModelPath);
        // The head tied to wte reuses the one initializer (no transposed copy): the file is about the size of the weights.
        long weightBytes = model.parameters().Sum(p => p.numel()) * 4;
        Assert.InRange(new FileInfo(report.ModelPath).Length, weightBytes, weightBytes + 200_000);
    }

    [Fact]
    public void Gpt2_with_ort_fused_attention_matches_TorchSharp_with_one_attention_and_two_norm_nodes_per_layer()
    {
        using var dir = new ExportTempDir();
        using var model = TinyGpt2(seed: 4);
        // The verifier runs a left-padded batch of two (prefill, then a decode step) through both and compares logits
        // and presents, so padding, the causal mask and the past concat are all checked.
        var report = DecoderOnnxExporter.Export(model, dir.Path, new TransformerExportOptions { OrtFusedAttention = true });
        Assert.True(report.PrefillMaxAbs <= 1e-4, $"prefill {report.PrefillMaxAbs}");
        Assert.True(report.DecodeMaxAbs <= 1e-4, $"decode {report.DecodeMaxAbs}");
        var graph = Formats.Onnx.ModelProto.Parser.ParseFrom(File.ReadAllBytes(report.ModelPath));
        Assert.Equal(2, graph.Graph.Node.Count(n => n.OpType == "MultiHeadAttention" && n.Domain == "com.microsoft"));
        Assert.DoesNotContain(graph.Graph.Node, n => n.OpType is "Softmax" or "Concat" && n.Output.Any(o => o.StartsWith("present.", StringComparison.Ordinal)));
        Assert.Contains(graph.OpsetImport, o => o.Domain == "com.microsoft");
        // Both residual adds of each layer are folded with the norm after them (ln_2, then the next ln_1 or ln_f).
        Assert.Equal(4, graph.Graph.Node.Count(n => n.OpType == "SkipLayerNormalization"));
        Assert.Equal(1, graph.Graph.Node.Count(n => n.OpType == "LayerNormalization"));
    }

    [Fact]
    public void Ort_fused_attention_on_Llama_is_refused_with_a_clear_error()
    {
        using var dir = new ExportTempDir();
        using var model = TinyLlama();
        var e = Assert.Throws<NotSupportedException>(() => DecoderOnnxExporter.Export(model, dir.Path, new TransformerExportOptions { OrtFusedAttention = true }));
        Assert.Contains("GPT-2 only", e.Message);
        Assert.False(File.Exists(dir.File("model.onnx")));
    }

    [Fact]
    public void Llama_with_grouped_query_attention_matches_TorchSharp_on_prefill_and_decode()
    {
        using var dir = new ExportTempDir();
        using var model = TinyLlama();
        var report = DecoderOnnxExporter.Export(model, dir.Path);
        Assert.True(report.PrefillMaxAbs <= 1e-4, $"prefill {report.PrefillMaxAbs}");
        Assert.True(report.DecodeMaxAbs <= 1e-4, $"decode {report.DecodeMaxAbs}");
        Assert.Equal(2, report.KeyValueHeads);
        OnnxChecker.Check(report.ModelPath);
    }

    [Theory]
    [InlineData("llama", 18)]
    [InlineData("llama", 21)]
    [InlineData("gpt2", 18)]
    public void Export_declares_the_requested_opset_and_still_matches_TorchSharp(string modelType, int opset)
    {
        using var dir = new ExportTempDir();
        using CausalLanguageModel model = modelType == "llama" ? TinyLlama(seed: 5) : TinyGpt2(seed: 5);
        var report = DecoderOnnxExporter.Export(model, dir.Path, new TransformerExportOptions { Opset = opset });
        Assert.True(report.PrefillMaxAbs <= 1e-4, $"prefill {report.PrefillMaxAbs}"); // ONNX Runtime ran it at that opset
        Assert.True(report.DecodeMaxAbs <= 1e-4, $"decode {report.DecodeMaxAbs}");
        var graph = Formats.Onnx.ModelProto.Parser.ParseFrom(File.ReadAllBytes(report.ModelPath));
        Assert.Equal(opset, graph.OpsetImport.Single(o => o.Domain == "").Version);
        // Opset 18 moved ReduceMean's axes (Llama's RMSNorm) from an attribute to an input.
        Assert.All(graph.Graph.Node.Where(n => n.OpType == "ReduceMean"), n =>
        {
            Assert.Equal(2, n.Input.Count);
            Assert.DoesNotContain(n.Attribute, a => a.Name == "axes");
        });
    }

    [Fact]
    public void Opset_below_17_is_refused()
    {
        using var dir = new ExportTempDir();
        using var model = TinyGpt2();
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => DecoderOnnxExporter.Export(model, dir.Path, new TransformerExportOptions { Opset = 16 }));
        Assert.Contains("at least 17", e.Message);
        Assert.False(File.Exists(dir.File("model.onnx")));
    }

    [Fact]
    public void Tied_Llama_exports_and_verifies()
    {
        using var dir = new ExportTempDir();
        using var model = TinyLlama(seed: 3, tied: true);
        var report = DecoderOnnxExporter.Export(model, dir.Path);
        Assert.True(report.DecodeMaxAbs <= 1e-4);
        OnnxChecker.Check(report.ModelPath);
    }

    [Fact]
    public void Graph_has_Optimum_names_and_dynamic_batch_and_past()
    {
        using var dir = new ExportTempDir();
        using var model = TinyLlama();
        var report = DecoderOnnxExporter.Export(model, dir.Path, new TransformerExportOptions { Verify = false });
        using var session = new InferenceSession(report.ModelPath);
        Assert.Equal(["input_ids", "attention_mask", "position_ids", "past_key_values.0.key", "past_key_values.0.value", "past_key_values.1.key", "past_key_values.1.value"],
            session.InputNames);
        Assert.Equal(["logits", "present.0.key", "present.0.value", "present.1.key", "present.1.value"], session.OutputNames);
        Assert.Equal([-1, 2, -1, 8], session.InputMetadata["past_key_values.0.key"].Dimensions);
        Assert.Equal([-1, -1, 100], session.OutputMetadata["logits"].Dimensions);
    }

    [Trait("Category", "Slow")]
    [Theory]
    [InlineData(1, 0, 4)]
    [InlineData(3, 6, 1)]
    [InlineData(2, 3, 2)]
    [InlineData(3, 6, 1, true)]
    [InlineData(1, 0, 4, true)]
    public void Any_batch_and_past_length_matches_TorchSharp(int batch, int pastLength, int newLength, bool fused = false)
    {
        using var dir = new ExportTempDir();
        using var model = TinyGpt2(seed: 5);
        var report = DecoderOnnxExporter.Export(model, dir.Path, new TransformerExportOptions { Verify = false, OrtFusedAttention = fused });
        using var session = new InferenceSession(report.ModelPath);
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var (ids, _) = TinyModels.Inputs(100, pastLength + newLength, seed: batch * 10 + pastLength, leftPad: new int[batch]);
        using var cache = new KeyValueCache(model.NumLayers);
        if (pastLength > 0) model.forward(ids.narrow(1, 0, pastLength), null, cache);
        var expected = model.forward(ids.narrow(1, pastLength, newLength), null, cache).Logits;

        var past = new float[2][];
        var inputs = new Dictionary<string, OrtValue>();
        long total = pastLength + newLength;
        inputs["input_ids"] = OrtValue.CreateTensorValueFromMemory(ids.narrow(1, pastLength, newLength).contiguous().data<long>().ToArray(), [batch, newLength]);
        inputs["attention_mask"] = OrtValue.CreateTensorValueFromMemory(Enumerable.Repeat(1L, (int)(batch * total)).ToArray(), [batch, total]);
        inputs["position_ids"] = OrtValue.CreateTensorValueFromMemory(Enumerable.Range(0, batch).SelectMany(_ => Enumerable.Range(pastLength, newLength).Select(p => (long)p)).ToArray(), [batch, newLength]);
        using var pastCache = new KeyValueCache(model.NumLayers);
        if (pastLength > 0) model.forward(ids.narrow(1, 0, pastLength), null, pastCache);
        for (int i = 0; i < model.NumLayers; i++)
        {
            inputs[$"past_key_values.{i}.key"] = Past(pastCache.Keys(i), batch);
            inputs[$"past_key_values.{i}.value"] = Past(pastCache.Values(i), batch);
        }
        using var results = session.Run(new RunOptions(), inputs.Keys.ToArray(), inputs.Values.ToArray(), ["logits", "present.0.key"]);
        foreach (var v in inputs.Values) v.Dispose();
        float[] got = results[0].GetTensorDataAsSpan<float>().ToArray();
        Assert.Equal([batch, newLength, 100L], results[0].GetTensorTypeAndShape().Shape);
        Assert.Equal([batch, 4L, total, 8L], results[1].GetTensorTypeAndShape().Shape);
        double worst = (tensor(got).view(expected.shape) - expected).abs().max().item<float>();
        Assert.True(worst <= 1e-4, $"max abs {worst}");
    }

    static OrtValue Past(Tensor? t, int batch) => t is null
        ? OrtValue.CreateAllocatedTensorValue(OrtAllocator.DefaultInstance, Microsoft.ML.OnnxRuntime.Tensors.TensorElementType.Float, [batch, 4, 0, 8])
        : OrtValue.CreateTensorValueFromMemory(t.contiguous().data<float>().ToArray(), t.shape);

    [Fact]
    public void Companion_files_are_copied_from_the_source_folder()
    {
        using var src = new ExportTempDir();
        using var dir = new ExportTempDir();
        using var model = TinyGpt2();
        model.PretrainedConfig.Save(src.File("config.json"));
        File.WriteAllText(src.File("tokenizer.json"), "{}");
        File.WriteAllText(src.File("generation_config.json"), "{\"eos_token_id\": 3}");
        var report = DecoderOnnxExporter.Export(model, dir.Path, new TransformerExportOptions { SourceFolder = src.Path, Verify = false });
        Assert.Equal(["config.json", "generation_config.json", "tokenizer.json"], report.CopiedFiles);
        Assert.Equal("{}", File.ReadAllText(dir.File("tokenizer.json")));
    }

    [Trait("Category", "Slow")]
    [Theory]
    [InlineData("qwen2", null)]
    [InlineData("mistral", 3)]
    public void Qwen2_biases_and_Mistral_sliding_window_match_TorchSharp(string modelType, int? window)
    {
        using var dir = new ExportTempDir();
        manual_seed(8);
        using var model = new LlamaForCausalLM(TinyModels.Llama() with { ModelType = modelType, SlidingWindow = window });
        TinyModels.Randomize(model, 8);
        model.eval();
        var report = DecoderOnnxExporter.Export(model, dir.Path);
        Assert.True(report.PrefillMaxAbs <= 1e-4 && report.DecodeMaxAbs <= 1e-4, $"{report.PrefillMaxAbs} {report.DecodeMaxAbs}");
        OnnxChecker.Check(report.ModelPath);
    }
}
