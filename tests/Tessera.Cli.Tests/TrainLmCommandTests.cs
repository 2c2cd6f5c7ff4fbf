using Tessera.Tests.Shared;
using Tessera.Text;
using Tessera.Text.Generation;
using Tessera.Transformers;

namespace Tessera.Cli.Tests;

/// <summary><c>tessera train lm</c> on a few kilobytes of text for a few steps, then <c>tessera generate</c> on its model folder.</summary>
public class TrainLmCommandTests : IDisposable
{
    private readonly TempDirectory temp = new("tessera-cli-lm-");
    public void Dispose() => temp.Dispose();

    private static (int Code, string Out, string Err) Run(params string[] args) => CliRunner.Run(args);

    [Fact]
    public void Train_lm_writes_a_model_folder_that_generate_can_use()
    {
        string data = Path.Combine(temp.Path, "fortunes");
        File.WriteAllText(data, string.Join("\n%\n", Enumerable.Range(0, 200).Select(i => $"You will meet a tall stranger number {i}.\n\t-- Fortune {i % 7}")) + "\n%\n");
        string outDir = Path.Combine(temp.Path, "run");
        var (code, output, err) = Run("train", "lm", "--data", data, "--max-steps", "4", "--batch-size", "4", "--block-size", "32",
            "--validate-every", "2", "--out", outDir);
        Assert.True(code == 0, err + output);
        Assert.Contains("perplexity", output);
        string model = Path.Combine(outDir, "model");
        foreach (string file in new[] { "config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json", "generation_config.json", "README.md" })
            Assert.True(File.Exists(Path.Combine(model, file)), file);
        string card = File.ReadAllText(Path.Combine(model, "README.md"));
        Assert.Contains("validation perplexity", card);
        Assert.Contains("## Samples", card);

        // The model-index, read by PyYAML, holds the run's final validation loss (the last val_loss of metrics.csv) and its perplexity.
        double lastValLoss = LastValue(Path.Combine(outDir, "metrics.csv"), "val_loss");
        var index = CardFrontMatter.ReadModelIndex(Path.Combine(model, "README.md"));
        Assert.Equal(("gpt2-tiny-fortunes", "text-generation", "fortunes", "validation"), (index.Name, index.TaskType, index.DatasetType, index.Split));
        var metrics = index.Metrics;
        Assert.Equal(["loss", "perplexity"], metrics.Keys.Order());
        Assert.Equal(lastValLoss, metrics["loss"].Value, 1e-9);
        Assert.Equal(Math.Exp(lastValLoss), metrics["perplexity"].Value, 1e-9);

        var generated = Run("generate", model, "--prompt", "You will", "--max-new-tokens", "8", "--stream");
        Assert.True(generated.Code == 0, generated.Err);
        Assert.StartsWith("You will", generated.Out);
    }

    /// <summary>The last non-empty value of <paramref name="column"/> in a metrics.csv.</summary>
    internal static double LastValue(string csv, string column)
    {
        string[] lines = File.ReadAllLines(csv);
        int index = Array.IndexOf(lines[0].Split(','), column);
        Assert.True(index >= 0, $"no {column} column in {csv}");
        return lines.Skip(1).Select(l => l.Split(',')[index]).Where(v => v.Length > 0)
            .Select(v => double.Parse(v, System.Globalization.CultureInfo.InvariantCulture)).Last();
    }

    [Trait("Category", "Slow")]
    [Fact]
    public void Train_lm_with_the_gpt2_tokenizer_saves_a_gpt2_vocabulary_model()
    {
        string data = Path.Combine(temp.Path, "fortunes");
        File.WriteAllText(data, string.Join("\n%\n", Enumerable.Range(0, 200).Select(i => $"You will meet a tall stranger number {i}.\n\t-- Fortune {i % 7}")) + "\n%\n");
        string outDir = Path.Combine(temp.Path, "run");
        // A 50257-id head makes even gpt2-tiny 7M parameters: a short context and two steps keep this quick.
        var (code, output, err) = Run("train", "lm", "--tokenizer", "gpt2", "--data", data, "--max-steps", "2", "--batch-size", "2", "--block-size", "16",
            "--validate-every", "2", "--out", outDir);
        Assert.True(code == 0, err + output);
        string model = Path.Combine(outDir, "model");

        HfTokenizer tokenizer = AutoTokenizer.FromPretrained(model);
        Assert.Equal(50257, tokenizer.VocabSize);
        // GPT-2's ids (checked against npm @huggingface/tokenizers), not one id per byte.
        Assert.Equal([23748, 995], tokenizer.Encode(" hello world", addSpecialTokens: false).Ids);
        Assert.Equal(50256, tokenizer.EosTokenId);
        using (CausalLanguageModel lm = AutoModelForCausalLM.FromPretrained(model))
        {
            Assert.Equal(16, lm.MaxPositions);
            Assert.Equal(50257, Assert.IsType<Gpt2Config>(lm.PretrainedConfig).VocabSize);
            Assert.Equal([50256], lm.PretrainedConfig.EosTokenIds);
            Assert.Equal(50256, lm.PretrainedConfig.BosTokenId);
        }
        var generation = GenerationConfig.Load(model);
        Assert.Equal([50256], generation.EosTokenIds);
        Assert.Equal(50256, generation.BosTokenId);
        Assert.Equal(50256, generation.PadTokenId);
        Assert.Contains("GPT-2's byte-level BPE vocabulary", File.ReadAllText(Path.Combine(model, "README.md")));

        var generated = Run("generate", model, "--prompt", "You will", "--max-new-tokens", "4", "--greedy");
        Assert.True(generated.Code == 0, generated.Err);
        Assert.StartsWith("You will", generated.Out);
    }

    [Fact]
    public void Train_lm_with_bf16_mixed_precision_writes_an_fp32_model()
    {
        string data = Path.Combine(temp.Path, "fortunes");
        File.WriteAllText(data, string.Join("\n%\n", Enumerable.Range(0, 200).Select(i => $"You will meet a tall stranger number {i}.\n\t-- Fortune {i % 7}")) + "\n%\n");
        string outDir = Path.Combine(temp.Path, "run");
        var (code, output, err) = Run("train", "lm", "--data", data, "--max-steps", "4", "--batch-size", "4", "--block-size", "32",
            "--validate-every", "2", "--precision", "bf16-mixed", "--out", outDir);
        Assert.True(code == 0, err + output);
        Assert.Contains("bf16-mixed", output);
        Assert.Contains("perplexity", output);
        using var scope = TorchSharp.torch.NewDisposeScope();
        var weights = Tessera.Checkpoints.SafeTensorsTorch.Load(Path.Combine(outDir, "model", "model.safetensors"));
        Assert.NotEmpty(weights);
        Assert.All(weights, kv => Assert.Equal(TorchSharp.torch.ScalarType.Float32, kv.Value.dtype));
    }
}
