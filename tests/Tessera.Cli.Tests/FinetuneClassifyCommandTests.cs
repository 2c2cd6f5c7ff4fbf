using Tessera.Adapters;
using Tessera.Checkpoints;
using Tessera.Recipes;
using Tessera.Tests.Shared;
using Tessera.Text;
using Tessera.Transformers;
using TorchSharp;

namespace Tessera.Cli.Tests;

/// <summary><c>tessera finetune --task classify</c> on a tiny random BERT folder with the byte-level tokenizer.</summary>
public class FinetuneClassifyCommandTests : IDisposable
{
    private readonly TempDirectory temp = new("tessera-cli-cls-");
    public void Dispose() => temp.Dispose();

    private static (int Code, string Out, string Err) Run(params string[] args) => CliRunner.Run(args);

    private string TinyBertFolder()
    {
        string folder = Path.Combine(temp.Path, "bert");
        torch.manual_seed(3);
        using var model = new BertModel(new BertConfig { VocabSize = 257, HiddenSize = 16, NumHiddenLayers = 2, NumAttentionHeads = 2, IntermediateSize = 32, MaxPositionEmbeddings = 64, Architectures = ["BertModel"] });
        model.SavePretrained(folder);
        ByteVocabulary.WriteTokenizerFiles(folder, 64);
        return folder;
    }

    private string Data(string name, int count)
    {
        string path = Path.Combine(temp.Path, name);
        File.WriteAllLines(path, ["id,text,label", .. Enumerable.Range(0, count).Select(i => i % 2 == 0
            ? $"{i},\"good, fine \"\"day\"\" {i}\",positive"
            : $"{i},bad awful {i},negative")]);
        return path;
    }

    [Fact]
    public void Classify_writes_a_reloadable_seq_cls_adapter_with_the_head_and_labels()
    {
        string bert = TinyBertFolder();
        string outDir = Path.Combine(temp.Path, "ft");
        var ft = Run("finetune", bert, "--task", "classify", "--data", Data("train.csv", 24), "--val-data", Data("val.csv", 8),
            "--text-column", "text", "--label-column", "label", "--lora-r", "4", "--lora-alpha", "8", "--target", "query,value",
            "--max-steps", "6", "--batch-size", "4", "--validate-every", "3", "--lr", "0.01", "--out", outDir);
        Assert.True(ft.Code == 0, ft.Err);
        Assert.Contains("2-label classifier (negative, positive)", ft.Out);
        Assert.Contains("validation accuracy", ft.Out);

        string adapter = Path.Combine(outDir, "adapter");
        LoraConfig config = LoraConfig.Load(adapter);
        Assert.Equal("SEQ_CLS", config.TaskType);
        Assert.Equal(["classifier"], config.ModulesToSave!);
        Assert.Equal(4, config.R);
        var keys = SafeTensorsTorch.Load(Path.Combine(adapter, "adapter_model.safetensors"));
        Assert.Contains("base_model.model.bert.encoder.layer.1.attention.self.value.lora_A.weight", keys.Keys);
        Assert.Contains(keys.Keys, k => k.StartsWith("base_model.model.classifier.", StringComparison.Ordinal));
        Assert.Equal(2 * 2 * 2 + 2, keys.Count);
        string card = File.ReadAllText(Path.Combine(outDir, "README.md"));
        Assert.Contains($"base_model: {bert}", card);
        Assert.Contains("\"task_type\": \"SEQ_CLS\"", card);
        Assert.True(File.Exists(Path.Combine(outDir, "metrics.csv")));
        Assert.Contains("val_acc", File.ReadAllText(Path.Combine(outDir, "metrics.csv")));

        // The model-index, read by PyYAML: the held-out --val-data scored with the final weights, as metrics.csv logged last.
        var index = CardFrontMatter.ReadModelIndex(Path.Combine(outDir, "README.md"));
        Assert.Equal(("bert-lora", "text-classification", "val.csv", "validation"), (index.Name, index.TaskType, index.DatasetName, index.Split));
        var metrics = index.Metrics;
        Assert.Equal(["accuracy", "loss"], metrics.Keys.Order());
        Assert.Equal(TrainLmCommandTests.LastValue(Path.Combine(outDir, "metrics.csv"), "val_acc"), metrics["accuracy"].Value, 1e-9);
        Assert.Equal(TrainLmCommandTests.LastValue(Path.Combine(outDir, "metrics.csv"), "val_loss"), metrics["loss"].Value, 1e-9);

        var (model, _) = ClassifierFinetuning.LoadWithAdapter(bert, adapter);
        using (model)
        {
            Assert.Equal("positive", model.Config.Id2Label!["1"]);
            Assert.Equal(0, model.Config.Label2Id!["negative"]);
            var tokenizer = AutoTokenizer.FromPretrained(bert);
            var enc = tokenizer.EncodeBatch(["good day", "bad awful thing"]);
            using var ids = torch.tensor(enc.FlattenInputIds(), [2, enc.SequenceLength]);
            using var mask = torch.tensor(enc.FlattenAttentionMask(), [2, enc.SequenceLength]);
            using var _ = torch.no_grad();
            using var logits = model.forward(ids, mask);
            Assert.Equal([2L, 2L], logits.shape);
        }
    }

    [Fact]
    public void Full_finetuning_saves_a_complete_model_folder()
    {
        string bert = TinyBertFolder();
        string outDir = Path.Combine(temp.Path, "full");
        var ft = Run("finetune", bert, "--task", "classify", "--full", "--data", Data("train.csv", 30), "--max-steps", "3", "--batch-size", "4", "--out", outDir);
        Assert.True(ft.Code == 0, ft.Err);
        Assert.Contains("all weights", ft.Out);
        using var model = AutoModelForSequenceClassification.FromPretrained(Path.Combine(outDir, "model"));
        Assert.Equal(2, Assert.IsType<BertForSequenceClassification>(model).Config.NumLabels);
        Assert.True(File.Exists(Path.Combine(outDir, "model", "tokenizer.json")));
    }

    [Fact]
    public void A_missing_column_is_a_one_line_error_naming_the_file_and_the_columns()
    {
        string bert = TinyBertFolder();
        var bad = Run("finetune", bert, "--task", "classify", "--data", Data("train.csv", 4), "--text-column", "sentence", "--out", Path.Combine(temp.Path, "x"));
        Assert.NotEqual(0, bad.Code);
        Assert.Contains("train.csv", bad.Err);
        Assert.Contains("\"sentence\"", bad.Err);
        Assert.Contains("\"id\", \"text\", \"label\"", bad.Err);
        Assert.Single(bad.Err.Trim().Split('\n'));
    }
}
