using Tessera.Adapters;
using Tessera.Checkpoints;
using Tessera.Tests.Shared;
using Tessera.Text;
using Tessera.Transformers;

namespace Tessera.Cli.Tests;

/// <summary><c>tessera finetune</c>, <c>generate --adapter</c> and <c>merge</c> on a tiny random byte-level GPT-2 folder.</summary>
public class FinetuneCommandTests : IDisposable
{
    private readonly TempDirectory temp = new("tessera-cli-ft-");
    public void Dispose() => temp.Dispose();

    private static (int Code, string Out, string Err) Run(params string[] args) => CliRunner.Run(args);

    private string TinyModelFolder()
    {
        string folder = Path.Combine(temp.Path, "model");
        TorchSharp.torch.manual_seed(1);
        using var model = new Gpt2LMHeadModel(new Gpt2Config { VocabSize = 257, NPositions = 64, NEmbd = 16, NLayer = 2, NHead = 2, EosTokenId = System.Text.Json.JsonSerializer.SerializeToElement(ByteVocabulary.EndOfTextId) });
        model.SavePretrained(folder);
        ByteVocabulary.WriteTokenizerFiles(folder, 64);
        return folder;
    }

    [Trait("Category", "Slow")]
    [Fact]
    public void Finetune_then_generate_with_the_adapter_equals_generate_on_the_merged_model()
    {
        string folder = TinyModelFolder();
        string data = Path.Combine(temp.Path, "data.jsonl");
        File.WriteAllLines(data, Enumerable.Range(0, 40).Select(i => $$"""{"text": "Q: what is {{i}} plus one? A: {{i + 1}}.", "id": {{i}}}"""));
        string outDir = Path.Combine(temp.Path, "ft");
        var ft = Run("finetune", folder, "--data", data, "--lora-r", "4", "--lora-alpha", "8", "--target", "c_attn,c_fc", "--max-steps", "6",
            "--batch-size", "2", "--block-size", "32", "--validate-every", "3", "--lr", "0.01", "--out", outDir);
        Assert.True(ft.Code == 0, ft.Err);
        Assert.Contains("trainable params: ", ft.Out);
        string adapter = Path.Combine(outDir, "adapter");
        LoraConfig config = LoraConfig.Load(adapter);
        Assert.Equal(4, config.R);
        Assert.Equal(["c_attn", "c_fc"], config.TargetModules!);
        Assert.True(config.FanInFanOut);
        var keys = SafeTensorsTorch.Load(Path.Combine(adapter, "adapter_model.safetensors"));
        Assert.Contains("base_model.model.transformer.h.1.mlp.c_fc.lora_B.weight", keys.Keys);
        Assert.Equal(8, keys.Count);
        Assert.Contains(keys, kv => kv.Key.EndsWith("lora_B.weight", StringComparison.Ordinal) && kv.Value.abs().max().item<float>() > 0);
        string card = File.ReadAllText(Path.Combine(outDir, "README.md"));
        Assert.Contains("base_model: ", card);
        Assert.Contains("\"fan_in_fan_out\": true", card); // as adapter_config.json says for Conv1D targets
        // The model-index, read by PyYAML: the held-out lines' final validation loss, as metrics.csv logged last.
        var index = CardFrontMatter.ReadModelIndex(Path.Combine(outDir, "README.md"));
        Assert.Equal(("text-generation", "data.jsonl"), (index.TaskType, index.DatasetType));
        var metrics = index.Metrics;
        double valLoss = TrainLmCommandTests.LastValue(Path.Combine(outDir, "metrics.csv"), "val_loss");
        Assert.Equal(valLoss, metrics["loss"].Value, 1e-9);
        Assert.Equal(Math.Exp(valLoss), metrics["perplexity"].Value, 1e-9);

        var plain = Run("generate", folder, "--prompt", "Q: what", "--max-new-tokens", "8", "--greedy");
        var adapted = Run("generate", folder, "--prompt", "Q: what", "--max-new-tokens", "8", "--greedy", "--adapter", adapter);
        Assert.True(adapted.Code == 0, adapted.Err);
        string merged = Path.Combine(temp.Path, "merged");
        var merge = Run("merge", folder, adapter, "--out", merged);
        Assert.True(merge.Code == 0, merge.Err);
        Assert.Contains("merged 4 adapted layers", merge.Out);
        var fromMerged = Run("generate", merged, "--prompt", "Q: what", "--max-new-tokens", "8", "--greedy");
        Assert.True(fromMerged.Code == 0, fromMerged.Err);
        Assert.Equal(adapted.Out, fromMerged.Out);
        // The adapter changed the model. Not asserted on the text: a tiny random byte model often emits invalid UTF-8,
        // which decodes to one U+FFFD per byte whatever the bytes are, so plain and adapted text can be equal.
        Assert.True(plain.Code == 0, plain.Err);
        var baseWeights = SafeTensorsTorch.Load(Path.Combine(folder, "model.safetensors"));
        var mergedWeights = SafeTensorsTorch.Load(Path.Combine(merged, "model.safetensors"));
        const string attention = "transformer.h.0.attn.c_attn.weight";
        Assert.True(mergedWeights[attention].sub(baseWeights[attention]).abs().max().item<float>() > 1e-6f, "merge left c_attn unchanged");
    }

    [Trait("Category", "Slow")]
    [Fact]
    public void Bf16_mixed_finetuning_saves_an_fp32_adapter_and_tracks_the_fp32_loss()
    {
        string folder = TinyModelFolder();
        string data = Path.Combine(temp.Path, "data.jsonl");
        File.WriteAllLines(data, Enumerable.Range(0, 40).Select(i => $$"""{"text": "Q: what is {{i}} plus one? A: {{i + 1}}."}"""));
        double TrainLoss(string precision)
        {
            string outDir = Path.Combine(temp.Path, "ft-" + precision);
            var ft = Run("finetune", folder, "--data", data, "--lora-r", "4", "--max-steps", "4", "--batch-size", "2", "--block-size", "32",
                "--validate-every", "2", "--lr", "0.01", "--seed", "3", "--precision", precision, "--out", outDir);
            Assert.True(ft.Code == 0, ft.Err + ft.Out);
            var adapter = SafeTensorsTorch.Load(Path.Combine(outDir, "adapter", "adapter_model.safetensors"));
            Assert.All(adapter, kv => Assert.Equal(TorchSharp.torch.ScalarType.Float32, kv.Value.dtype));
            Assert.Contains(adapter, kv => kv.Key.EndsWith("lora_B.weight", StringComparison.Ordinal) && kv.Value.abs().max().item<float>() > 0);
            var match = System.Text.RegularExpressions.Regex.Match(ft.Out, @"train loss (\d+\.\d+)");
            Assert.True(match.Success, ft.Out);
            return double.Parse(match.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
        }
        double fp32 = TrainLoss("32-true"), bf16 = TrainLoss("bf16-mixed");
        // Same seed and data: bf16 rounding moves the loss of 4 steps by well under 2 % (a broken gradient path moves it far more).
        Assert.InRange(bf16, fp32 * 0.98, fp32 * 1.02);
    }

    [Trait("Category", "Slow")]
    [Fact]
    public void Prompt_completion_lines_train_on_the_completion_only()
    {
        string folder = TinyModelFolder();
        string data = Path.Combine(temp.Path, "pairs.jsonl");
        File.WriteAllLines(data, Enumerable.Range(0, 30).Select(i => $$"""{"prompt": "{{i}} + 1 =", "completion": " {{i + 1}}"}"""));
        string outDir = Path.Combine(temp.Path, "ft-pairs");
        var ft = Run("finetune", folder, "--data", data, "--max-steps", "4", "--batch-size", "4", "--validate-every", "2", "--out", outDir);
        Assert.True(ft.Code == 0, ft.Err);
        Assert.Contains("loss on completions only", ft.Out);
        Assert.Contains("validation loss", ft.Out);
        Assert.True(File.Exists(Path.Combine(outDir, "adapter", "adapter_model.safetensors")));
        Assert.Equal(["c_attn"], LoraConfig.Load(Path.Combine(outDir, "adapter")).TargetModules!);

        var resumed = Run("finetune", folder, "--data", data, "--max-steps", "6", "--batch-size", "4", "--validate-every", "2", "--out", outDir, "--resume");
        Assert.True(resumed.Code == 0, resumed.Err);
        Assert.Contains(", 6 steps;", resumed.Out);
    }

    [Trait("Category", "Slow")]
    [Fact]
    public void Bad_targets_and_bad_data_are_one_line_errors()
    {
        string folder = TinyModelFolder();
        string data = Path.Combine(temp.Path, "data.jsonl");
        File.WriteAllLines(data, ["{\"text\": \"hello\"}", "{\"body\": \"no text\"}"]);
        var noText = Run("finetune", folder, "--data", data, "--out", Path.Combine(temp.Path, "a"));
        Assert.NotEqual(0, noText.Code);
        Assert.Contains("line 2", noText.Err);
        var badTarget = Run("finetune", folder, "--data", data, "--target", "q_proj", "--out", Path.Combine(temp.Path, "b"));
        Assert.Equal(2, badTarget.Code);
        Assert.Contains("c_attn", badTarget.Err);
        Assert.Single(badTarget.Err.Trim().Split('\n'));
    }
}
