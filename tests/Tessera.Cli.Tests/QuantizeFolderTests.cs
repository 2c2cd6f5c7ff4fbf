using Tessera.Tests.Shared;
using Tessera.Text;
using Tessera.Text.Generation;
using Tessera.Transformers;

namespace Tessera.Cli.Tests;

/// <summary>The README's decoder path: export a folder, quantize the folder, generate from the quantized folder.</summary>
public class QuantizeFolderTests : IDisposable
{
    private readonly TempDirectory temp = new("tessera-cli-quant-");
    public void Dispose() => temp.Dispose();

    [Fact]
    public void A_quantized_decoder_folder_keeps_every_companion_file_and_generates()
    {
        string folder = Path.Combine(temp.Path, "model");
        TorchSharp.torch.manual_seed(2);
        using (var model = new Gpt2LMHeadModel(new Gpt2Config { VocabSize = 50257, NPositions = 64, NEmbd = 16, NLayer = 1, NHead = 2, BosTokenId = 50256 }))
            model.SavePretrained(folder);
        Gpt2Vocabulary.WriteTokenizerFiles(folder);
        new GenerationConfig { BosTokenId = 50256, EosTokenId = System.Text.Json.JsonSerializer.SerializeToElement(50256), MaxNewTokens = 4 }.Save(folder);
        string onnx = Path.Combine(temp.Path, "lm-onnx");
        string int8 = Path.Combine(temp.Path, "lm-int8");
        Assert.Equal(0, CliRunner.Run("export", folder, "--out", onnx).Code);

        var quantize = CliRunner.Run("quantize", onnx, "--out", int8 + "/");
        Assert.True(quantize.Code == 0, quantize.Err);

        Assert.True(File.Exists(Path.Combine(int8, "onnx", "model.onnx"))); // the layout of the input folder (transformers.js)
        var expected = Directory.GetFiles(onnx).Select(Path.GetFileName).Where(n => !n!.EndsWith(".onnx", StringComparison.Ordinal)).Order().ToArray();
        var actual = Directory.GetFiles(int8).Select(Path.GetFileName).Where(n => !n!.EndsWith(".onnx", StringComparison.Ordinal)).Order().ToArray();
        Assert.Contains("tokenizer.json", expected);
        Assert.Equal(expected, actual);
        var generated = CliRunner.Run("generate", int8, "--prompt", "You will", "--max-new-tokens", "4", "--greedy");
        Assert.True(generated.Code == 0, generated.Err);
        Assert.StartsWith("You will", generated.Out);
    }
}
