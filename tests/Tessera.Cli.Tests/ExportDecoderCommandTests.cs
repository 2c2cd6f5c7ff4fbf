using Tessera.Runtime.Generation;
using Tessera.Tests.Shared;
using Tessera.Text.Generation;
using Tessera.Transformers;

namespace Tessera.Cli.Tests;

/// <summary><c>tessera export</c> on Hugging Face folders: causal LMs go to the decoder exporter, BERT to the encoder exporter.</summary>
public class ExportDecoderCommandTests : IDisposable
{
    private readonly TempDirectory temp = new("tessera-cli-decexport-");
    public void Dispose() => temp.Dispose();

    [Trait("Category", "Slow")]
    [Fact]
    public void Export_of_a_causal_LM_folder_writes_a_decoder_with_past_that_ONNX_Runtime_generates_from()
    {
        string folder = Path.Combine(temp.Path, "model");
        TorchSharp.torch.manual_seed(1);
        using (var model = new Gpt2LMHeadModel(new Gpt2Config { VocabSize = 300, NPositions = 64, NEmbd = 16, NLayer = 1, NHead = 2 }))
            model.SavePretrained(folder);
        File.WriteAllText(Path.Combine(folder, "tokenizer.json"), "{}");
        string outDir = Path.Combine(temp.Path, "lm-onnx") + "/";

        var output = new StringWriter();
        var error = new StringWriter();
        int code = Cli.Run(["export", folder, "--out", outDir], output, error);
        Assert.True(code == 0, error.ToString());
        Assert.Matches(@"max abs error vs TorchSharp: prefill \d\.\de[+-]\d\d, decode step \d\.\de[+-]\d\d", output.ToString());
        // transformers.js's layout, as without --out: the JSON files at the root, the graph in onnx/.
        Assert.True(File.Exists(Path.Combine(outDir, "onnx", "model.onnx")));
        Assert.False(File.Exists(Path.Combine(outDir, "model.onnx")));
        Assert.True(File.Exists(Path.Combine(outDir, "tokenizer.json")));
        Assert.True(File.Exists(Path.Combine(outDir, "config.json")));
        Assert.True(Cli.Run(["export", folder], new StringWriter(), error) == 0, error.ToString());
        Assert.True(File.Exists(Path.Combine(folder, "onnx", "model.onnx")));
        Assert.False(File.Exists(Path.Combine(folder, "model.onnx")));

        // Tessera's loader takes the folder (graph in onnx/), the onnx/ folder itself, and a flat folder (model.onnx at its root).
        string flat = Path.Combine(temp.Path, "flat");
        Directory.CreateDirectory(flat);
        foreach (string file in Directory.GetFiles(Path.Combine(outDir, "onnx"))) File.Copy(file, Path.Combine(flat, Path.GetFileName(file)));
        var settings = new GenerationConfig { MaxNewTokens = 5 }.WithEosTokenIds([]);
        int[] expected;
        using (var lm = OrtCausalLM.Load(outDir)) expected = lm.GenerateIds([1, 2, 3], settings);
        Assert.Equal(5, expected.Length);
        foreach (string layout in new[] { Path.Combine(outDir, "onnx"), flat })
        {
            using var lm = OrtCausalLM.Load(layout);
            Assert.Equal(expected, lm.GenerateIds([1, 2, 3], settings));
        }
        Assert.True(OrtTextGenerator.IsDecoderFolder(outDir));
        Assert.True(OrtTextGenerator.IsDecoderFolder(flat));
    }

    [Fact]
    public void Opset_applies_to_causal_LM_folders_and_below_17_is_an_argument_error()
    {
        string folder = Path.Combine(temp.Path, "model-opset");
        TorchSharp.torch.manual_seed(3);
        using (var model = new LlamaForCausalLM(new LlamaConfig { VocabSize = 300, HiddenSize = 16, IntermediateSize = 32, NumHiddenLayers = 1, NumAttentionHeads = 2, NumKeyValueHeads = 1, MaxPositionEmbeddings = 64 }))
            model.SavePretrained(folder);
        string outDir = Path.Combine(temp.Path, "opset-18") + "/";
        var output = new StringWriter();
        var error = new StringWriter();
        Assert.True(Cli.Run(["export", folder, "--out", outDir, "--opset", "18"], output, error) == 0, error.ToString());
        Assert.Contains("opset 18", output.ToString());
        var graph = Formats.Onnx.ModelProto.Parser.ParseFrom(File.ReadAllBytes(Path.Combine(outDir, "onnx", "model.onnx")));
        Assert.Equal(18, graph.OpsetImport.Single(o => o.Domain == "").Version);

        error = new StringWriter();
        Assert.Equal(2, Cli.Run(["export", folder, "--out", Path.Combine(temp.Path, "opset-16") + "/", "--opset", "16"], new StringWriter(), error));
        Assert.Equal("error: --opset must be at least 17 (got 16)", error.ToString().Trim());
        Assert.False(Directory.Exists(Path.Combine(temp.Path, "opset-16")));
    }

    [Fact]
    public void Fused_attention_export_generates_the_same_greedy_ids_as_the_standard_export()
    {
        string folder = Path.Combine(temp.Path, "model-fused");
        TorchSharp.torch.manual_seed(2);
        using (var model = new Gpt2LMHeadModel(new Gpt2Config { VocabSize = 300, NPositions = 64, NEmbd = 32, NLayer = 2, NHead = 4 }))
            model.SavePretrained(folder);
        string standard = Path.Combine(temp.Path, "standard") + "/", fused = Path.Combine(temp.Path, "fused") + "/";
        var error = new StringWriter();
        Assert.True(Cli.Run(["export", folder, "--out", standard], new StringWriter(), error) == 0, error.ToString());
        Assert.True(Cli.Run(["export", folder, "--out", fused, "--ort-fused-attention"], new StringWriter(), error) == 0, error.ToString());
        Assert.Contains("MultiHeadAttention", File.ReadAllText(Path.Combine(fused, "onnx", "model.onnx"), System.Text.Encoding.Latin1));
        Assert.DoesNotContain("MultiHeadAttention", File.ReadAllText(Path.Combine(standard, "onnx", "model.onnx"), System.Text.Encoding.Latin1));

        var settings = new GenerationConfig { MaxNewTokens = 12 }.WithEosTokenIds([]);
        using var a = OrtCausalLM.Load(standard);
        using var b = OrtCausalLM.Load(fused);
        Assert.Equal(a.GenerateIds([5, 17, 42, 7], settings), b.GenerateIds([5, 17, 42, 7], settings));
        Assert.Equal(a.GenerateIds([[5, 17, 42, 7], [9, 3]], settings), b.GenerateIds([[5, 17, 42, 7], [9, 3]], settings)); // left padding
    }

    [Fact]
    public void Export_of_a_BERT_masked_LM_folder_writes_an_encoder()
    {
        string folder = Path.Combine(temp.Path, "bert");
        TorchSharp.torch.manual_seed(2);
        using (var model = new BertForMaskedLM(new BertConfig { VocabSize = 50, HiddenSize = 16, NumHiddenLayers = 1, NumAttentionHeads = 2, IntermediateSize = 32, MaxPositionEmbeddings = 16, Architectures = ["BertForMaskedLM"] }))
            model.SavePretrained(folder);
        var output = new StringWriter();
        var error = new StringWriter();
        int code = Cli.Run(["export", folder], output, error);
        Assert.True(code == 0, error.ToString());
        Assert.Contains("BertForMaskedLM encoder: outputs logits", output.ToString());
        Assert.Matches(@"max abs error vs TorchSharp: \d\.\de[+-]\d\d", output.ToString());
        Assert.True(File.Exists(Path.Combine(folder, "onnx", "model.onnx")));
    }

    [Fact]
    public void Export_of_a_decoder_to_a_file_name_is_refused_and_writes_nothing_beside_it()
    {
        string folder = Path.Combine(temp.Path, "gpt2-file");
        TorchSharp.torch.manual_seed(3);
        using (var model = new Gpt2LMHeadModel(new Gpt2Config { VocabSize = 50, NPositions = 16, NEmbd = 16, NLayer = 1, NHead = 2 }))
            model.SavePretrained(folder);
        string parent = Path.Combine(temp.Path, "parent");
        Directory.CreateDirectory(parent);
        File.WriteAllText(Path.Combine(parent, "config.json"), "{\"mine\": true}");
        var output = new StringWriter();
        var error = new StringWriter();
        int code = Cli.Run(["export", folder, "--out", Path.Combine(parent, "x.onnx")], output, error);
        Assert.Equal(2, code);
        Assert.Contains("--out", error.ToString());
        Assert.Contains("folder", error.ToString());
        Assert.Equal(["config.json"], Directory.GetFiles(parent).Select(Path.GetFileName));
        Assert.Equal("{\"mine\": true}", File.ReadAllText(Path.Combine(parent, "config.json")));
    }
}
