using System.Text;
using Tessera.Hub.Datasets;

namespace Tessera.Hub.Tests.Datasets;

/// <summary>Dataset repositories from the fake hub: API paths, the <c>datasets--org--name</c> cache, revisions and the recorded commit.</summary>
public sealed class HubDatasetDownloadTests
{
    const string RepoId = "tessera-test/reviews";

    static async Task<Dictionary<string, byte[]>> ShardedFilesAsync(int seed)
    {
        var (t0, l0) = ParquetFiles.Rows(120, seed);
        var (t1, l1) = ParquetFiles.Rows(80, seed + 100);
        var (t2, l2) = ParquetFiles.Rows(30, seed + 200);
        return new Dictionary<string, byte[]>
        {
            ["README.md"] = Encoding.UTF8.GetBytes("---\nlicense: mit\n---\n# reviews\n"),
            ["data/train-00000-of-00002.parquet"] = await ParquetFiles.WriteWithParquetNetAsync(t0, l0, rowGroupSize: 50),
            ["data/train-00001-of-00002.parquet"] = await ParquetFiles.WriteWithParquetNetAsync(t1, l1, rowGroupSize: 50),
            ["data/test-00000-of-00001.parquet"] = await ParquetFiles.WriteWithParquetNetAsync(t2, l2, rowGroupSize: 50),
            [".gitattributes"] = Encoding.UTF8.GetBytes("*.parquet filter=lfs diff=lfs merge=lfs -text\n"),
        };
    }

    [Fact]
    public async Task Dataset_snapshot_lands_in_the_datasets_cache_layout_and_reports_its_commit()
    {
        await using var hub = await FakeHub.StartAsync();
        var files = await ShardedFilesAsync(seed: 10);
        string commit = hub.Commit(RepoId, files, repoType: RepoType.Dataset);
        using var tmp = new TempDirectory("tessera-hubds-");
        using var client = hub.Client(tmp.Path);

        HubSnapshot snapshot = await client.DownloadSnapshotAsync(RepoId, RepoType.Dataset);

        string repoDir = Path.Combine(tmp.Path, "datasets--tessera-test--reviews");
        Assert.Equal(commit, snapshot.Commit);
        Assert.Equal(Path.Combine(repoDir, "snapshots", commit), snapshot.Folder);
        Assert.Equal("hf://datasets/tessera-test/reviews", snapshot.Uri);
        Assert.Equal(commit, File.ReadAllText(Path.Combine(repoDir, "refs", "main")));
        foreach (var (name, content) in files)
        {
            string etag = FakeHub.ETagOf(content);
            string link = Path.Combine(snapshot.Folder, name.Replace('/', Path.DirectorySeparatorChar));
            Assert.Equal(content, File.ReadAllBytes(link));
            Assert.Equal(content, File.ReadAllBytes(Path.Combine(repoDir, "blobs", etag)));
            Assert.EndsWith(Path.Combine("blobs", etag), new FileInfo(link).LinkTarget);
        }
        Assert.False(Directory.Exists(Path.Combine(tmp.Path, "models--tessera-test--reviews")));
        Assert.Contains(hub.Requests, r => r.Path == $"/api/datasets/{RepoId}/revision/main");
        Assert.Contains(hub.Requests, r => r.Path == $"/datasets/{RepoId}/resolve/{commit}/data/train-00000-of-00002.parquet");
        Assert.DoesNotContain(hub.Requests, r => r.Path.StartsWith("/api/models/", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Load_hub_reference_downloads_and_reads_the_splits()
    {
        await using var hub = await FakeHub.StartAsync();
        var files = await ShardedFilesAsync(seed: 20);
        string commit = hub.Commit(RepoId, files, repoType: RepoType.Dataset);
        using var tmp = new TempDirectory("tessera-hubds-");
        using var client = hub.Client(tmp.Path);

        HubDataset dataset = await HubDataset.LoadAsync($"hub:{RepoId}", client);

        Assert.Equal(commit, dataset.Snapshot?.Commit);
        Assert.Equal(["train", "test"], dataset.Splits.Select(s => s.Name));
        var train = dataset["train"].ReadBatches([new("text", DatasetColumnType.String), new("label", DatasetColumnType.Int64)]).ToList();
        Assert.Equal([50, 50, 20, 50, 30], train.Select(b => b.Count)); // row groups of both shards, in shard order
        var (t0, _) = ParquetFiles.Rows(120, 20);
        var (t1, _) = ParquetFiles.Rows(80, 120);
        Assert.Equal([.. t0, .. t1], train.SelectMany(b => b.Strings("text")));
        // Only data files and the card were asked for.
        Assert.DoesNotContain(hub.Requests, r => r.Path.EndsWith(".gitattributes", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Revisions_pin_the_data_and_the_commit()
    {
        await using var hub = await FakeHub.StartAsync();
        string v1 = hub.Commit(RepoId, new Dictionary<string, byte[]> { ["train.jsonl"] = Encoding.UTF8.GetBytes("{\"text\": \"old\"}\n") },
            repoType: RepoType.Dataset);
        hub.Commit(RepoId, new Dictionary<string, byte[]> { ["train.jsonl"] = Encoding.UTF8.GetBytes("{\"text\": \"old\"}\n") }, branch: "v1.0",
            repoType: RepoType.Dataset);
        string v2 = hub.Commit(RepoId, new Dictionary<string, byte[]> { ["train.jsonl"] = Encoding.UTF8.GetBytes("{\"text\": \"new\"}\n") },
            repoType: RepoType.Dataset);
        using var tmp = new TempDirectory("tessera-hubds-");
        using var client = hub.Client(tmp.Path);
        static string FirstText(HubDataset d) => d["train"].ReadRows(new DatasetColumn("text", DatasetColumnType.String)).First().GetString("text")!;

        var main = await HubDataset.LoadAsync($"hub:{RepoId}", client);
        var pinned = await HubDataset.LoadAsync($"hub:{RepoId}@{v1}", client);

        Assert.Equal((v2, "new"), (main.Snapshot!.Commit, FirstText(main)));
        Assert.Equal((v1, "old"), (pinned.Snapshot!.Commit, FirstText(pinned)));
        Assert.NotEqual(main.Path, pinned.Path);

        // A commit already in the cache resolves offline, and so does a branch through refs/.
        using var offline = hub.Client(tmp.Path, offline: true);
        int before = hub.Requests.Count;
        var again = await HubDataset.LoadAsync($"hub:{RepoId}@{v1}", offline);
        var mainOffline = await HubDataset.LoadAsync($"hub:{RepoId}", offline);
        Assert.Equal(before, hub.Requests.Count);
        Assert.Equal((v1, "old"), (again.Snapshot!.Commit, FirstText(again)));
        Assert.Equal(v2, mainOffline.Snapshot!.Commit);
    }

    [Fact]
    public async Task Gzipped_jsonl_shards_download_and_read()
    {
        await using var hub = await FakeHub.StartAsync();
        using var packed = new MemoryStream();
        using (var gzip = new System.IO.Compression.GZipStream(packed, System.IO.Compression.CompressionLevel.Fastest, leaveOpen: true))
            gzip.Write(Encoding.UTF8.GetBytes("{\"text\": \"zipped\"}\n"));
        hub.Commit(RepoId, new Dictionary<string, byte[]> { ["data/train-00000-of-00001.jsonl.gz"] = packed.ToArray(), ["notes.txt"] = [1, 2] }, repoType: RepoType.Dataset);
        using var tmp = new TempDirectory("tessera-hubds-");
        using var client = hub.Client(tmp.Path);
        var dataset = await HubDataset.LoadAsync($"hub:{RepoId}", client);
        Assert.Equal(["zipped"], dataset["train"].ReadRows(new DatasetColumn("text", DatasetColumnType.String)).Select(r => r.GetString("text")));
        Assert.False(File.Exists(Path.Combine(dataset.Path, "notes.txt"))); // only data files and the card are fetched
    }

    [Fact]
    public async Task A_dataset_id_is_not_found_as_a_model_and_errors_say_dataset()
    {
        await using var hub = await FakeHub.StartAsync();
        hub.Commit(RepoId, new Dictionary<string, byte[]> { ["train.csv"] = Encoding.UTF8.GetBytes("text\na\n") }, repoType: RepoType.Dataset);
        using var tmp = new TempDirectory("tessera-hubds-");
        using var client = hub.Client(tmp.Path);

        await Assert.ThrowsAsync<RepositoryNotFoundException>(() => client.GetModelInfoAsync(RepoId));
        var missing = await Assert.ThrowsAsync<RepositoryNotFoundException>(() => HubDataset.LoadAsync("hub:tessera-test/nope", client));
        Assert.StartsWith("Dataset repository 'tessera-test/nope' not found", missing.Message);
        var badRevision = await Assert.ThrowsAsync<RevisionNotFoundException>(() => HubDataset.LoadAsync($"hub:{RepoId}@v9", client));
        Assert.Contains("not found in dataset repository 'tessera-test/reviews'", badRevision.Message);
        using var offline = hub.Client(tmp.Path, offline: true);
        var notCached = await Assert.ThrowsAsync<LocalEntryNotFoundException>(() => HubDataset.LoadAsync($"hub:{RepoId}", offline));
        Assert.Contains("dataset 'tessera-test/reviews'", notCached.Message);
    }

    [Fact]
    public async Task Single_dataset_file_downloads_from_the_datasets_resolve_path()
    {
        await using var hub = await FakeHub.StartAsync();
        byte[] csv = Encoding.UTF8.GetBytes("text,label\nhello,1\n");
        string commit = hub.Commit(RepoId, new Dictionary<string, byte[]> { ["test.csv"] = csv }, repoType: RepoType.Dataset);
        using var tmp = new TempDirectory("tessera-hubds-");
        using var client = hub.Client(tmp.Path);

        string path = await client.DownloadFileAsync(RepoId, RepoType.Dataset, "test.csv");

        Assert.Equal(Path.Combine(tmp.Path, "datasets--tessera-test--reviews", "snapshots", commit, "test.csv"), path);
        Assert.Equal(csv, File.ReadAllBytes(path));
        Assert.True(client.Cache.TryGetCachedFile(RepoId, "test.csv", "main", out string? cached, RepoType.Dataset));
        Assert.Equal(path, cached);
        Assert.False(client.Cache.TryGetCachedFile(RepoId, "test.csv", "main", out _));
    }
}
