using Parquet;
using Parquet.Schema;
using Tessera.Hub;
using Tessera.Hub.Tests;
using Tessera.Tests.Shared;
using Tessera.Text;
using Tessera.Tracking;
using Tessera.Tracking.Runs;
using Tessera.Transformers;
using TorchSharp;

namespace Tessera.Cli.Tests;

/// <summary>
/// Commands on Hub-style datasets: <c>finetune --task classify</c> on a local folder of Parquet shards and on
/// <c>hub:org/name</c> from a fake hub, <c>train lm</c> on a Parquet text column.
/// </summary>
[Collection(HubEnvironmentAlone.Name)]
public sealed class HubDatasetCommandTests : IDisposable
{
    const string RepoId = "tessera-test/sentiment";
    readonly TempDirectory temp = new("tessera-cli-hubds-");
    public void Dispose() => temp.Dispose();

    string Store => Path.Combine(temp.Path, "runs.db");

    string TinyBertFolder()
    {
        string folder = Path.Combine(temp.Path, "bert");
        torch.manual_seed(5);
        using var model = new BertModel(new BertConfig { VocabSize = 257, HiddenSize = 16, NumHiddenLayers = 1, NumAttentionHeads = 2, IntermediateSize = 32, MaxPositionEmbeddings = 64, Architectures = ["BertModel"] });
        model.SavePretrained(folder);
        ByteVocabulary.WriteTokenizerFiles(folder, 64);
        return folder;
    }

    /// <summary>Sentences with an int64 ClassLabel-style label (0 negative, 1 positive), as the Hub's Parquet exports store them.</summary>
    static async Task<byte[]> ParquetAsync(int count, int offset)
    {
        var text = new DataField<string>("sentence");
        var label = new DataField<long>("label");
        string[] texts = [.. Enumerable.Range(offset, count).Select(i => i % 2 == 0 ? $"good fine day {i}" : $"bad awful {i}")];
        long[] labels = [.. Enumerable.Range(offset, count).Select(i => (long)(i % 2 == 0 ? 1 : 0))];
        using var stream = new MemoryStream();
        await using (var writer = await ParquetWriter.CreateAsync(new ParquetSchema(text, label), stream))
        {
            using var group = writer.CreateRowGroup();
            await group.WriteAsync(text, texts);
            await group.WriteAsync<long>(label, labels);
        }
        return stream.ToArray();
    }

    static async Task<Dictionary<string, byte[]>> FilesAsync() => new()
    {
        ["data/train-00000-of-00002.parquet"] = await ParquetAsync(12, 0),
        ["data/train-00001-of-00002.parquet"] = await ParquetAsync(8, 12),
        ["data/validation-00000-of-00001.parquet"] = await ParquetAsync(6, 100),
    };

    [Fact]
    public async Task Classify_on_a_local_hub_style_folder_uses_its_train_and_validation_splits()
    {
        string bert = TinyBertFolder();
        string data = Path.Combine(temp.Path, "sentiment");
        foreach (var (name, bytes) in await FilesAsync())
        {
            Directory.CreateDirectory(Path.GetDirectoryName(Path.Combine(data, name))!);
            File.WriteAllBytes(Path.Combine(data, name), bytes);
        }

        var ft = CliRunner.Run("finetune", bert, "--task", "classify", "--data", data, "--text-column", "sentence", "--max-steps", "2", "--batch-size", "4",
            "--out", Path.Combine(temp.Path, "ft"), "--tracking-uri", Store);

        Assert.True(ft.Code == 0, ft.Err);
        Assert.Contains($"data: {data}, splits train, validation", ft.Out);
        Assert.Contains("2-label classifier (0, 1) on 20 examples, validating on 6", ft.Out);
        using var store = RunStore.Open(Store);
        var dataset = Assert.Single(store.GetDatasets(Assert.Single(store.ListRuns()).Id));
        Assert.Equal(("sentiment", data, null), (dataset.Name, dataset.Source, dataset.Revision));
        Assert.Equal(ContentFingerprint.Compute(data).Sha256, dataset.Sha256);
    }

    [Fact]
    public async Task Hub_download_with_repo_type_dataset_prints_the_dataset_snapshot_folder()
    {
        await using var hub = await FakeHub.StartAsync();
        string commit = hub.Commit(RepoId, await FilesAsync(), repoType: RepoType.Dataset);
        string cache = Path.Combine(temp.Path, "hf-cache");

        var download = WithHubEnvironment(hub, cache, () => CliRunner.Run("hub", "download", RepoId, "--repo-type", "dataset", "--include", "data/validation-*"));

        Assert.True(download.Code == 0, download.Err);
        string snapshot = Path.Combine(cache, "datasets--tessera-test--sentiment", "snapshots", commit);
        Assert.Equal(snapshot, download.Out.Trim());
        Assert.Equal(["data/validation-00000-of-00001.parquet"],
            Directory.EnumerateFiles(snapshot, "*", SearchOption.AllDirectories).Select(f => Path.GetRelativePath(snapshot, f).Replace('\\', '/')));
        var asModel = WithHubEnvironment(hub, cache, () => CliRunner.Run("hub", "download", RepoId));
        Assert.Equal(1, asModel.Code);
        Assert.Contains($"Repository '{RepoId}' not found", asModel.Err);
    }

    /// <summary>Runs <paramref name="action"/> with HF_ENDPOINT at the fake hub and HF_HUB_CACHE at <paramref name="cache"/>, then restores the environment.</summary>
    static T WithHubEnvironment<T>(FakeHub hub, string cache, Func<T> action)
    {
        var saved = new Dictionary<string, string?>();
        foreach (var (name, value) in new Dictionary<string, string?> { ["HF_ENDPOINT"] = hub.Url.ToString().TrimEnd('/'), ["HF_HUB_CACHE"] = cache, ["HF_HUB_OFFLINE"] = null, ["HF_TOKEN"] = null })
        {
            saved[name] = Environment.GetEnvironmentVariable(name);
            Environment.SetEnvironmentVariable(name, value);
        }
        try { return action(); }
        finally
        {
            foreach (var (name, value) in saved) Environment.SetEnvironmentVariable(name, value);
        }
    }

    [Fact]
    public async Task Train_lm_reads_the_text_column_of_a_parquet_train_split_up_to_the_character_limit()
    {
        string data = Path.Combine(temp.Path, "corpus");
        Directory.CreateDirectory(Path.Combine(data, "data"));
        var text = new DataField<string>("text");
        var id = new DataField<long>("id");
        string[] lines = [.. Enumerable.Range(0, 400).Select(i => $"You will meet a tall stranger number {i}.")];
        await using (var stream = File.Create(Path.Combine(data, "data", "train-00000-of-00001.parquet")))
        await using (var writer = await ParquetWriter.CreateAsync(new ParquetSchema(id, text), stream))
            for (int start = 0; start < lines.Length; start += 100)
            {
                using var group = writer.CreateRowGroup();
                await group.WriteAsync<long>(id, Enumerable.Range(start, 100).Select(i => (long)i).ToArray());
                await group.WriteAsync(text, lines[start..(start + 100)]);
            }

        var lm = CliRunner.Run("train", "lm", "--data", data, "--max-steps", "2", "--batch-size", "2", "--block-size", "16", "--limit-chars", "4000",
            "--out", Path.Combine(temp.Path, "lm"), "--tracking-uri", Store);

        Assert.True(lm.Code == 0, lm.Err);
        Assert.Contains($"data: {data}, split train, column text", lm.Out);
        // About 4000 of the 16,000 characters: the byte tokenizer gives one token per character plus one end-of-text per entry.
        var tokens = System.Text.RegularExpressions.Regex.Match(lm.Out, @"on (\d+) tokens \((\d+) held out\)");
        Assert.True(tokens.Success, lm.Out);
        long total = long.Parse(tokens.Groups[1].Value) + long.Parse(tokens.Groups[2].Value);
        Assert.InRange(total, 3500, 4000);

        var wrongColumn = CliRunner.Run("train", "lm", "--data", data, "--text-column", "id", "--max-steps", "1", "--out", Path.Combine(temp.Path, "lm2"), "--tracking-uri", Store);
        Assert.NotEqual(0, wrongColumn.Code);
        Assert.Equal($"error: {Path.Combine(data, "data", "train-00000-of-00001.parquet")}: column \"id\" holds integer (Int64) values, expected a string", wrongColumn.Err.Trim());
    }

    [Fact]
    public async Task Classify_on_hub_data_downloads_the_dataset_and_records_repo_and_commit()
    {
        await using var hub = await FakeHub.StartAsync();
        string commit = hub.Commit(RepoId, await FilesAsync(), repoType: RepoType.Dataset);
        string bert = TinyBertFolder();
        string cache = Path.Combine(temp.Path, "hf-cache");
        string outDir = Path.Combine(temp.Path, "ft");
        var ft = WithHubEnvironment(hub, cache, () => CliRunner.Run("finetune", bert, "--task", "classify", "--data", $"hub:{RepoId}", "--text-column", "sentence",
            "--max-steps", "2", "--batch-size", "4", "--out", outDir, "--tracking-uri", Store));

        Assert.True(ft.Code == 0, ft.Err);
        Assert.Contains($"data: hf://datasets/{RepoId} at commit {commit}, splits train, validation", ft.Out);
        string snapshot = Path.Combine(cache, "datasets--tessera-test--sentiment", "snapshots", commit);
        Assert.True(File.Exists(Path.Combine(snapshot, "data", "train-00001-of-00002.parquet")));
        using var store = RunStore.Open(Store);
        var run = Assert.Single(store.ListRuns());
        var dataset = Assert.Single(store.GetDatasets(run.Id));
        Assert.Equal((RepoId, $"hf://datasets/{RepoId}", commit), (dataset.Name, dataset.Source, dataset.Revision));
        Assert.Equal(ContentFingerprint.Compute(snapshot), new ContentFingerprint(dataset.Sha256, dataset.Size, dataset.FileCount));
        Assert.Contains($"Data: `hf://datasets/{RepoId}` at commit `{commit}`.", File.ReadAllText(Path.Combine(outDir, "README.md")));
    }
}
