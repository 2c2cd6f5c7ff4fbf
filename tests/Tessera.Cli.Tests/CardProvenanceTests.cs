using System.Text.Json;
using Tessera.Formats;
using Tessera.Tests.Shared;
using Tessera.Tracking;
using Tessera.Tracking.Runs;

namespace Tessera.Cli.Tests;

/// <summary>Cards stamped with their run and source, read back by PyYAML (an independent YAML reader).</summary>
[Collection(SeededAlone.Name)]
public sealed class CardProvenanceTests : IDisposable
{
    readonly TempDirectory temp = new("tessera-cards-");

    public void Dispose() => temp.Dispose();

    static JsonElement ReadCard(string path) => CardFrontMatter.Read(path);

    [Fact]
    public void A_quantized_folder_card_names_its_source_model_and_run_and_keeps_the_model_index()
    {
        // The source: a trained model folder whose card carries its run id.
        string source = temp.File("trained");
        Directory.CreateDirectory(source);
        File.WriteAllText(Path.Combine(source, "config.json"), "{}");
        var sourceCard = new ModelCard { Title = "trained" };
        sourceCard.FrontMatter[CardProvenance.RunIdKey] = "a".PadRight(32, '0');
        sourceCard.Save(Path.Combine(source, "README.md"));

        // The output: a quantized folder with a card that has a model-index (as train writes), and one without a card.
        string output = temp.File("int8");
        Directory.CreateDirectory(Path.Combine(output, "onnx-only"));
        File.WriteAllText(Path.Combine(output, "model.onnx"), "x");
        File.WriteAllText(Path.Combine(output, "onnx-only", "model.onnx"), "y");
        var card = new ModelCard { Title = "int8" };
        card.FrontMatter["tags"] = new List<object?> { "image-classification" };
        card.FrontMatter["model-index"] = new List<object?>
        {
            new OrderedDictionary<string, object?>
            {
                ["name"] = "cnn",
                ["results"] = new List<object?>
                {
                    new OrderedDictionary<string, object?>
                    {
                        ["task"] = new OrderedDictionary<string, object?> { ["type"] = "image-classification", ["name"] = "Image Classification" },
                        ["dataset"] = new OrderedDictionary<string, object?> { ["type"] = "fashion_mnist", ["name"] = "Fashion-MNIST", ["split"] = "test" },
                        ["metrics"] = new List<object?> { new OrderedDictionary<string, object?> { ["type"] = "accuracy", ["value"] = 0.875, ["name"] = "Test accuracy" } },
                    },
                },
            },
        };
        card.Save(Path.Combine(output, "README.md"));

        string data = temp.File("data");
        Directory.CreateDirectory(data);
        File.WriteAllText(Path.Combine(data, "train.csv"), "a,b\n1,2\n");
        var dataset = DatasetInfo.FromPath("fashion-mnist", data);
        string runId = "b".PadRight(32, '1');
        CardProvenance.Stamp("quantize", runId, new Dictionary<string, string> { ["model"] = source, ["out"] = output }, [dataset], DateTime.UtcNow.AddSeconds(-5));

        var stamped = ReadCard(Path.Combine(output, "README.md"));
        var front = stamped.GetProperty("front");
        Assert.Equal("tessera", front.GetProperty("library_name").GetString());
        Assert.Equal(source, front.GetProperty("base_model").GetString());
        Assert.Equal("quantized", front.GetProperty("base_model_relation").GetString());
        Assert.Equal(runId, front.GetProperty("tessera_run_id").GetString());
        Assert.Equal("a".PadRight(32, '0'), front.GetProperty("tessera_source_run_id").GetString());
        Assert.Equal(["image-classification", "tessera", "quantize"], front.GetProperty("tags").EnumerateArray().Select(t => t.GetString()!).ToArray());
        Assert.Equal(["fashion-mnist"], front.GetProperty("datasets").EnumerateArray().Select(t => t.GetString()!).ToArray());
        var result = front.GetProperty("model-index")[0].GetProperty("results")[0];
        Assert.Equal("image-classification", result.GetProperty("task").GetProperty("type").GetString());
        Assert.Equal("test", result.GetProperty("dataset").GetProperty("split").GetString());
        Assert.Equal(0.875, result.GetProperty("metrics")[0].GetProperty("value").GetDouble());
        string body = stamped.GetProperty("body").GetString()!;
        Assert.Contains($"Tessera run `{runId}`", body);
        Assert.Contains(dataset.Sha256, body);

        // A folder the command wrote without a card gets one pointing at the source.
        var created = ReadCard(Path.Combine(output, "onnx-only", "README.md")).GetProperty("front");
        Assert.Equal(source, created.GetProperty("base_model").GetString());
        Assert.Equal("quantized", created.GetProperty("base_model_relation").GetString());
        Assert.Equal(runId, created.GetProperty("tessera_run_id").GetString());
    }

    [Fact]
    public void Runs_lineage_prints_the_chain_to_the_data_and_the_base_model()
    {
        string store = temp.File("store");
        string data = temp.File("data");
        Directory.CreateDirectory(data);
        File.WriteAllText(Path.Combine(data, "images.idx"), "pixels");
        string trained = temp.File("trained");
        Directory.CreateDirectory(trained);
        File.WriteAllText(Path.Combine(trained, "config.json"), "{}");
        string exported = temp.File("trained-onnx");
        Directory.CreateDirectory(exported);
        File.WriteAllText(Path.Combine(exported, "model.onnx"), "graph");
        string trainId, exportId;
        using (var runs = RunStore.Open(store))
        {
            using (var train = runs.StartRun(new RunStartOptions { Name = "train-cnn" }))
            {
                trainId = train.Id;
                train.LogDataset(DatasetInfo.FromPath("fashion-mnist", data));
                train.LogArtifact(trained, ArtifactKind.ModelFolder);
            }
            using var export = runs.StartRun(new RunStartOptions { Name = "export-trained" });
            exportId = export.Id;
            export.LogParams([new("model", trained)]);
            export.LogArtifact(exported, ArtifactKind.Onnx);
        }
        var (code, stdout, err) = CliRunner.Run("runs", "lineage", exported, "--tracking-uri", store);
        Assert.True(code == 0, err);
        string[] lines = stdout.Split('\n');
        Assert.StartsWith($"run {exportId} export-trained", lines[0]);
        Assert.Contains(lines, l => l.Contains($"input: {trained} <- run {trainId}"));
        Assert.Contains(lines, l => l.StartsWith($"  <- run {trainId} train-cnn"));
        Assert.Contains(lines, l => l.Contains("data: fashion-mnist") && l.Contains(ContentFingerprint.Compute(data).Sha256));
    }
}
