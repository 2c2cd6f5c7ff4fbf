using Tessera.Runtime.Generation;
using Tessera.Tests.Shared;
using Tessera.Transformers;

namespace Tessera.Cli.Tests;

/// <summary><c>tessera export</c> on a Hugging Face causal-LM folder routes to the decoder exporter.</summary>
public class ExportDecoderCommandTests : IDisposable
{
    private readonly TempDirectory temp = new("tessera-cli-decexport-");
    public void Dispose() => temp.Dispose();

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
        Assert.True(File.Exists(Path.Combine(outDir, "model.onnx")));
        Assert.True(File.Exists(Path.Combine(outDir, "tokenizer.json")));
        Assert.True(File.Exists(Path.Combine(outDir, "config.json")));

        using var lm = OrtCausalLM.Load(outDir);
        Assert.Equal(5, lm.Generate([1, 2, 3], new OrtGenerationSettings { MaxNewTokens = 5, EosTokenIds = [] }).Length);
    }
}
