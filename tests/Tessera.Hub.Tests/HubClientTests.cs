using System.Security.Cryptography;
using System.Text;
using Tessera.Tests.Shared;

namespace Tessera.Hub.Tests;

public sealed class HubClientTests
{
    const string RepoId = "tessera-test/tiny-model";

    static readonly byte[] Config = Encoding.UTF8.GetBytes("""{"model_type":"gpt2","n_embd":8}""");
    static readonly byte[] Tokenizer = Encoding.UTF8.GetBytes("""{"version":"1.0","model":{"type":"BPE"}}""");
    static readonly byte[] Weights = FakeHub.Bytes(200_000, seed: 1);

    static Dictionary<string, byte[]> ThreeFiles() => new()
    {
        ["config.json"] = Config,
        ["tokenizer.json"] = Tokenizer,
        ["model.safetensors"] = Weights,
    };

    /// <summary>N of a "bytes=N-" header; -1 when there is none.</summary>
    static long RangeStart(string? range) =>
        range is not null && range.StartsWith("bytes=", StringComparison.Ordinal) && range.EndsWith('-') ? long.Parse(range[6..^1]) : -1;

    static string Sha256Of(string path) => Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(path)));

    [Fact]
    public async Task Model_info_lists_siblings_with_sizes_and_lfs_sha256()
    {
        await using var hub = await FakeHub.StartAsync();
        string commit = hub.Commit(RepoId, ThreeFiles());
        using var tmp = new TempDirectory("tessera-hub-");
        using var client = hub.Client(tmp.Path);

        ModelInfo info = await client.GetModelInfoAsync(RepoId);

        Assert.Equal(RepoId, info.Id);
        Assert.Equal(commit, info.Sha);
        Assert.Equal(["config.json", "model.safetensors", "tokenizer.json"], info.Siblings.Select(s => s.RFilename));
        var weights = info.Siblings.Single(s => s.RFilename == "model.safetensors");
        Assert.Equal(Weights.Length, weights.Size);
        Assert.Equal(FakeHub.Sha256(Weights), weights.Lfs?.Sha256);
        Assert.Null(info.Siblings.Single(s => s.RFilename == "config.json").Lfs);
        Assert.Equal(Config.Length + Tokenizer.Length + Weights.Length, info.TotalSize);
    }

    [Fact]
    public async Task Snapshot_download_lays_out_blobs_snapshots_and_refs_like_huggingface_hub()
    {
        await using var hub = await FakeHub.StartAsync();
        string commit = hub.Commit(RepoId, ThreeFiles());
        using var tmp = new TempDirectory("tessera-hub-");
        using var client = hub.Client(tmp.Path);

        string folder = await client.SnapshotDownloadAsync(RepoId);

        string repoDir = Path.Combine(tmp.Path, "models--tessera-test--tiny-model");
        Assert.Equal(Path.Combine(repoDir, "snapshots", commit), folder);
        Assert.Equal(commit, File.ReadAllText(Path.Combine(repoDir, "refs", "main")));
        foreach (var (name, content) in ThreeFiles())
        {
            string snapshotFile = Path.Combine(folder, name);
            string etag = FakeHub.ETagOf(content);
            Assert.Equal(Path.Combine("..", "..", "blobs", etag), new FileInfo(snapshotFile).LinkTarget);
            Assert.Equal(content, File.ReadAllBytes(snapshotFile));
            Assert.Equal(content, File.ReadAllBytes(Path.Combine(repoDir, "blobs", etag)));
        }
        Assert.Equal(3, Directory.GetFiles(Path.Combine(repoDir, "blobs")).Length); // no .incomplete left behind
        Assert.Contains(hub.Requests, r => r.Path.StartsWith("/cdn/", StringComparison.Ordinal)); // the LFS redirect was followed
    }

    [Fact]
    public async Task Download_file_in_a_subfolder_links_relative_to_its_depth()
    {
        await using var hub = await FakeHub.StartAsync();
        string commit = hub.Commit(RepoId, new Dictionary<string, byte[]> { ["onnx/model.onnx"] = Weights });
        using var tmp = new TempDirectory("tessera-hub-");
        using var client = hub.Client(tmp.Path);

        string path = await client.DownloadFileAsync(RepoId, "onnx/model.onnx");

        Assert.EndsWith(Path.Combine("snapshots", commit, "onnx", "model.onnx"), path);
        Assert.Equal(Path.Combine("..", "..", "..", "blobs", FakeHub.Sha256(Weights)), new FileInfo(path).LinkTarget);
        Assert.Equal(FakeHub.Sha256(Weights), Sha256Of(path));
    }

    [Fact]
    public async Task Connection_dropped_mid_file_is_resumed_with_a_range_request()
    {
        await using var hub = await FakeHub.StartAsync();
        hub.Commit(RepoId, ThreeFiles());
        hub.DropHalfway["model.safetensors"] = 1;
        using var tmp = new TempDirectory("tessera-hub-");
        using var client = hub.Client(tmp.Path);

        string path = await client.DownloadFileAsync(RepoId, "model.safetensors");

        Assert.Equal(FakeHub.Sha256(Weights), Sha256Of(path));
        var gets = hub.Requests.Where(r => r.Method == "GET" && r.Path.StartsWith("/cdn/", StringComparison.Ordinal)).ToList();
        Assert.Equal(2, gets.Count);
        Assert.Null(gets[0].Range);
        Assert.InRange(RangeStart(gets[1].Range), 1, Weights.Length - 1);
    }

    [Fact]
    public async Task Partial_download_left_by_a_failed_call_resumes_in_the_next_call()
    {
        await using var hub = await FakeHub.StartAsync();
        hub.Commit(RepoId, ThreeFiles());
        hub.DropHalfway["model.safetensors"] = 1;
        using var tmp = new TempDirectory("tessera-hub-");
        using (var impatient = hub.Client(tmp.Path, maxRetries: 0))
        {
            var error = await Assert.ThrowsAsync<HubException>(() => impatient.DownloadFileAsync(RepoId, "model.safetensors"));
            Assert.Contains("resume", error.Message);
        }
        string incomplete = Path.Combine(tmp.Path, "models--tessera-test--tiny-model", "blobs", FakeHub.Sha256(Weights) + ".incomplete");
        long partial = new FileInfo(incomplete).Length;
        Assert.InRange(partial, 1, Weights.Length - 1);

        using var client = hub.Client(tmp.Path);
        string path = await client.DownloadFileAsync(RepoId, "model.safetensors");

        Assert.Equal(FakeHub.Sha256(Weights), Sha256Of(path));
        Assert.False(File.Exists(incomplete));
        Assert.Equal($"bytes={partial}-", hub.Requests.Last(r => r.Method == "GET").Range);
    }

    [Fact]
    public async Task Bytes_that_do_not_match_the_sha256_etag_are_rejected_and_deleted()
    {
        await using var hub = await FakeHub.StartAsync();
        hub.Commit(RepoId, ThreeFiles());
        hub.Corrupt["model.safetensors"] = true;
        using var tmp = new TempDirectory("tessera-hub-");
        using var client = hub.Client(tmp.Path);

        var error = await Assert.ThrowsAsync<HubChecksumException>(() => client.DownloadFileAsync(RepoId, "model.safetensors"));

        Assert.Contains(FakeHub.Sha256(Weights), error.Message);
        string blobs = Path.Combine(tmp.Path, "models--tessera-test--tiny-model", "blobs");
        Assert.Empty(Directory.GetFiles(blobs));
        Assert.False(client.Cache.TryGetCachedFile(RepoId, "model.safetensors", "main", out _));
    }

    [Theory]
    [InlineData("model.safetensors")] // LFS: size announced by X-Linked-Size
    [InlineData("config.json")]       // regular file: size announced by Content-Length of the HEAD
    public async Task A_server_sending_more_than_the_announced_size_is_cut_off_and_the_part_deleted(string filename)
    {
        await using var hub = await FakeHub.StartAsync();
        hub.Commit(RepoId, ThreeFiles());
        hub.Oversend[filename] = 300L << 20;
        using var tmp = new TempDirectory("tessera-hub-");
        using var client = hub.Client(tmp.Path);

        var error = await Assert.ThrowsAnyAsync<HubException>(() => client.DownloadFileAsync(RepoId, filename));

        Assert.Contains("announced", error.Message);
        Assert.Contains(filename, error.Message);
        string blobs = Path.Combine(tmp.Path, "models--tessera-test--tiny-model", "blobs");
        Assert.Empty(Directory.Exists(blobs) ? Directory.GetFiles(blobs) : []);
        Assert.False(client.Cache.TryGetCachedFile(RepoId, filename, "main", out _));
    }

    [Fact]
    public async Task A_file_of_unannounced_size_stops_at_the_configured_limit()
    {
        await using var hub = await FakeHub.StartAsync();
        hub.Commit(RepoId, ThreeFiles());
        hub.Oversend["model.safetensors"] = 8L << 20;
        using var tmp = new TempDirectory("tessera-hub-");
        // A HEAD that announces no size: the client knows nothing but its limit.
        using var client = new HubClient(new HubOptions
        {
            Endpoint = hub.Url.ToString().TrimEnd('/'), CacheDir = tmp.Path, MaxRetries = 0, MaxUnannouncedFileBytes = 1 << 20,
            HttpMessageHandler = new DropSizeHeaders(new SocketsHttpHandler { AllowAutoRedirect = false }),
        });

        var error = await Assert.ThrowsAnyAsync<HubException>(() => client.DownloadFileAsync(RepoId, "model.safetensors"));

        Assert.Contains(nameof(HubOptions.MaxUnannouncedFileBytes), error.Message);
        string blobs = Path.Combine(tmp.Path, "models--tessera-test--tiny-model", "blobs");
        Assert.Empty(Directory.Exists(blobs) ? Directory.GetFiles(blobs) : []);
    }

    /// <summary>Removes every size header from responses, as a server that announces nothing would send them.</summary>
    sealed class DropSizeHeaders(HttpMessageHandler inner) : DelegatingHandler(inner)
    {
        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken ct)
        {
            var response = await base.SendAsync(request, ct);
            response.Headers.Remove("X-Linked-Size");
            if (request.Method == HttpMethod.Head) response.Content.Headers.ContentLength = null;
            return response;
        }
    }

    [Fact]
    public async Task Unknown_repository_is_RepositoryNotFound()
    {
        await using var hub = await FakeHub.StartAsync();
        using var tmp = new TempDirectory("tessera-hub-");
        using var client = hub.Client(tmp.Path);

        var info = await Assert.ThrowsAsync<RepositoryNotFoundException>(() => client.GetModelInfoAsync("nobody/nothing"));
        var file = await Assert.ThrowsAsync<RepositoryNotFoundException>(() => client.DownloadFileAsync("nobody/nothing", "config.json"));
        await Assert.ThrowsAsync<RepositoryNotFoundException>(() => client.SnapshotDownloadAsync("nobody/nothing"));

        Assert.Contains("nobody/nothing", info.Message);
        Assert.Equal(System.Net.HttpStatusCode.NotFound, file.StatusCode);
    }

    [Fact]
    public async Task Missing_file_and_unknown_revision_have_their_own_errors()
    {
        await using var hub = await FakeHub.StartAsync();
        hub.Commit(RepoId, ThreeFiles());
        using var tmp = new TempDirectory("tessera-hub-");
        using var client = hub.Client(tmp.Path);

        var entry = await Assert.ThrowsAsync<EntryNotFoundException>(() => client.DownloadFileAsync(RepoId, "missing.bin"));
        var revision = await Assert.ThrowsAsync<RevisionNotFoundException>(() => client.DownloadFileAsync(RepoId, "config.json", "v9"));
        await Assert.ThrowsAsync<RevisionNotFoundException>(() => client.GetModelInfoAsync(RepoId, "v9"));

        Assert.Contains("missing.bin", entry.Message);
        Assert.Contains("'v9'", revision.Message);
    }

    [Fact]
    public async Task Gated_repository_needs_a_token_and_works_with_one()
    {
        await using var hub = await FakeHub.StartAsync();
        string commit = hub.Commit(RepoId, ThreeFiles(), gated: true);
        using var tmp = new TempDirectory("tessera-hub-");

        using (var anonymous = hub.Client(tmp.Path))
        {
            var error = await Assert.ThrowsAsync<GatedRepoException>(() => anonymous.DownloadFileAsync(RepoId, "config.json"));
            Assert.Contains("needs a token: set HF_TOKEN", error.Message);
            Assert.Equal(System.Net.HttpStatusCode.Unauthorized, error.StatusCode);
            await Assert.ThrowsAsync<GatedRepoException>(() => anonymous.GetModelInfoAsync(RepoId));
        }
        using (var wrongToken = hub.Client(tmp.Path, token: "hf_wrong"))
        {
            var error = await Assert.ThrowsAsync<GatedRepoException>(() => wrongToken.SnapshotDownloadAsync(RepoId));
            Assert.Contains("rejected the token", error.Message);
        }
        using (var withToken = hub.Client(tmp.Path, token: FakeHub.GoodToken))
        {
            string folder = await withToken.SnapshotDownloadAsync(RepoId);
            Assert.EndsWith(commit, folder);
        }

        // The same through the environment, as the CLI gets it.
        using var tmp2 = new TempDirectory("tessera-hub-");
        var env = new Dictionary<string, string?> { ["HF_TOKEN"] = FakeHub.GoodToken, ["HF_HUB_CACHE"] = tmp2.Path, ["HF_ENDPOINT"] = hub.Url.ToString() };
        using var fromEnv = new HubClient(HubOptions.FromEnvironment(name => env.GetValueOrDefault(name)));
        string path = await fromEnv.DownloadFileAsync(RepoId, "model.safetensors");
        Assert.StartsWith(tmp2.Path, path);
        Assert.Equal(FakeHub.Sha256(Weights), Sha256Of(path));
    }

    [Fact]
    public async Task Token_goes_to_the_hub_but_not_to_a_cdn_on_another_host()
    {
        await using var hub = await FakeHub.StartAsync(separateCdn: true);
        hub.Commit(RepoId, ThreeFiles(), gated: true);
        using var tmp = new TempDirectory("tessera-hub-");
        using var client = hub.Client(tmp.Path, token: FakeHub.GoodToken);

        string path = await client.DownloadFileAsync(RepoId, "model.safetensors");

        Assert.Equal(FakeHub.Sha256(Weights), Sha256Of(path));
        var cdn = hub.Requests.Where(r => r.Port == hub.CdnUrl.Port).ToList();
        var own = hub.Requests.Where(r => r.Port == hub.Url.Port).ToList();
        Assert.NotEmpty(cdn);
        Assert.All(cdn, r => Assert.Null(r.Authorization));
        Assert.All(own, r => Assert.Equal($"Bearer {FakeHub.GoodToken}", r.Authorization));
    }

    [Fact]
    public async Task Updated_branch_gives_a_new_snapshot_and_moves_the_ref_keeping_the_old_snapshot()
    {
        await using var hub = await FakeHub.StartAsync();
        string first = hub.Commit(RepoId, ThreeFiles());
        using var tmp = new TempDirectory("tessera-hub-");
        using var client = hub.Client(tmp.Path);
        string oldPath = await client.DownloadFileAsync(RepoId, "config.json");

        byte[] newConfig = Encoding.UTF8.GetBytes("""{"model_type":"gpt2","n_embd":16}""");
        string second = hub.Commit(RepoId, new Dictionary<string, byte[]>(ThreeFiles()) { ["config.json"] = newConfig });
        string newPath = await client.DownloadFileAsync(RepoId, "config.json");

        Assert.NotEqual(first, second);
        Assert.Contains(second, newPath);
        Assert.Equal(newConfig, File.ReadAllBytes(newPath));
        Assert.Equal(Config, File.ReadAllBytes(oldPath));
        Assert.Contains(first, oldPath);
        Assert.Equal(second, File.ReadAllText(Path.Combine(tmp.Path, "models--tessera-test--tiny-model", "refs", "main")));
        // The old commit still resolves from the cache.
        Assert.True(client.Cache.TryGetCachedFile(RepoId, "config.json", first, out string? pinned));
        Assert.Equal(oldPath, pinned);
    }

    [Fact]
    public async Task Offline_mode_serves_cached_files_without_any_request()
    {
        await using var hub = await FakeHub.StartAsync();
        string commit = hub.Commit(RepoId, ThreeFiles());
        using var tmp = new TempDirectory("tessera-hub-");
        string online;
        using (var client = hub.Client(tmp.Path)) online = await client.SnapshotDownloadAsync(RepoId);
        int before = hub.Requests.Count;

        using var offline = hub.Client(tmp.Path, offline: true);
        string folder = await offline.SnapshotDownloadAsync(RepoId);
        string file = await offline.DownloadFileAsync(RepoId, "model.safetensors");
        string byCommit = await offline.DownloadFileAsync(RepoId, "config.json", commit);

        Assert.Equal(before, hub.Requests.Count);
        Assert.Equal(online, folder);
        Assert.Equal(Path.Combine(folder, "model.safetensors"), file);
        Assert.Equal(Config, File.ReadAllBytes(byCommit));
    }

    [Fact]
    public async Task Offline_mode_without_a_cached_copy_says_offline_and_names_what_is_missing()
    {
        await using var hub = await FakeHub.StartAsync();
        hub.Commit(RepoId, ThreeFiles());
        using var tmp = new TempDirectory("tessera-hub-");
        using var offline = hub.Client(tmp.Path, offline: true);

        var file = await Assert.ThrowsAsync<LocalEntryNotFoundException>(() => offline.DownloadFileAsync(RepoId, "config.json", "v1"));
        var snapshot = await Assert.ThrowsAsync<LocalEntryNotFoundException>(() => offline.SnapshotDownloadAsync(RepoId));

        Assert.Empty(hub.Requests);
        Assert.Contains("offline", file.Message);
        Assert.Contains("'config.json'", file.Message);
        Assert.Contains(RepoId, file.Message);
        Assert.Contains("'v1'", file.Message);
        Assert.Contains("offline", snapshot.Message);
        Assert.Contains(RepoId, snapshot.Message);
    }

    [Fact]
    public async Task Unreachable_hub_falls_back_to_the_cache()
    {
        using var tmp = new TempDirectory("tessera-hub-");
        HubOptions options;
        await using (var hub = await FakeHub.StartAsync())
        {
            hub.Commit(RepoId, ThreeFiles());
            using var client = hub.Client(tmp.Path);
            await client.DownloadFileAsync(RepoId, "config.json");
            options = client.Options;
        } // the server is gone; its port refuses connections now

        using var cut = new HubClient(options);
        string cached = await cut.DownloadFileAsync(RepoId, "config.json");
        string folder = await cut.SnapshotDownloadAsync(RepoId);
        var missing = await Assert.ThrowsAsync<LocalEntryNotFoundException>(() => cut.DownloadFileAsync(RepoId, "tokenizer.json"));

        Assert.Equal(Config, File.ReadAllBytes(cached));
        Assert.Equal(Path.GetDirectoryName(cached), folder);
        Assert.Contains("could not be reached", missing.Message);
    }

    [Fact]
    public async Task Cached_file_at_a_commit_needs_no_request()
    {
        await using var hub = await FakeHub.StartAsync();
        string commit = hub.Commit(RepoId, ThreeFiles());
        using var tmp = new TempDirectory("tessera-hub-");
        using var client = hub.Client(tmp.Path);
        await client.DownloadFileAsync(RepoId, "model.safetensors", commit);
        int before = hub.Requests.Count;

        string again = await client.DownloadFileAsync(RepoId, "model.safetensors", commit);

        Assert.Equal(before, hub.Requests.Count);
        Assert.Equal(FakeHub.Sha256(Weights), Sha256Of(again));
        // A commit revision writes no ref.
        Assert.False(Directory.Exists(Path.Combine(tmp.Path, "models--tessera-test--tiny-model", "refs")));
    }

    [Fact]
    public async Task Parallel_snapshot_reports_progress_that_sums_to_the_total_bytes()
    {
        await using var hub = await FakeHub.StartAsync();
        var files = Enumerable.Range(0, 6).ToDictionary(i => $"shard-{i}.safetensors", i => FakeHub.Bytes(50_000 + 7_000 * i, seed: 10 + i));
        files["config.json"] = Config;
        hub.Commit(RepoId, files);
        hub.BodyDelay = TimeSpan.FromMilliseconds(100);
        using var tmp = new TempDirectory("tessera-hub-");
        using var client = hub.Client(tmp.Path, parallel: 4);
        var reports = new List<HubProgress>();
        var progress = new SynchronousProgress(reports.Add);

        string folder = await client.SnapshotDownloadAsync(RepoId, progress: progress);

        long total = files.Values.Sum(f => (long)f.Length);
        Assert.All(reports, r => Assert.Equal(total, r.TotalBytes));
        Assert.Equal(total, reports[^1].BytesDownloaded);
        Assert.Equal(files.Count, reports[^1].FilesCompleted);
        Assert.Equal(files.Count, reports[^1].TotalFiles);
        Assert.True(reports.Zip(reports.Skip(1)).All(p => p.First.BytesDownloaded <= p.Second.BytesDownloaded), "progress went backwards");
        Assert.InRange(hub.MaxInFlight, 2, 4);
        foreach (var (name, content) in files) Assert.Equal(content, File.ReadAllBytes(Path.Combine(folder, name)));
    }

    [Fact]
    public async Task Allow_and_ignore_patterns_pick_the_files()
    {
        await using var hub = await FakeHub.StartAsync();
        hub.Commit(RepoId, ThreeFiles());
        using var tmp = new TempDirectory("tessera-hub-");
        using var client = hub.Client(tmp.Path);

        string folder = await client.SnapshotDownloadAsync(RepoId, allowPatterns: ["*.json"], ignorePatterns: ["tokenizer*"]);

        Assert.Equal(["config.json"], Directory.GetFiles(folder).Select(Path.GetFileName));
        Assert.DoesNotContain(hub.Requests, r => r.Path.StartsWith("/cdn/", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Second_snapshot_download_fetches_nothing_again()
    {
        await using var hub = await FakeHub.StartAsync();
        hub.Commit(RepoId, ThreeFiles());
        using var tmp = new TempDirectory("tessera-hub-");
        using var client = hub.Client(tmp.Path);
        await client.SnapshotDownloadAsync(RepoId);
        int bodies = hub.Requests.Count(r => r.Method == "GET");

        await client.SnapshotDownloadAsync(RepoId);

        // Only the model info is asked again; files at a known commit resolve from the cache.
        Assert.Equal(bodies + 1, hub.Requests.Count(r => r.Method == "GET"));
    }

    [Fact]
    public async Task Model_folder_resolves_paths_and_repo_references()
    {
        await using var hub = await FakeHub.StartAsync();
        string commit = hub.Commit(RepoId, ThreeFiles(), branch: "v1");
        using var tmp = new TempDirectory("tessera-hub-");
        using var client = hub.Client(tmp.Path);

        Assert.Equal(tmp.Path, await client.GetModelFolderAsync(tmp.Path));
        string folder = await client.GetModelFolderAsync($"{RepoId}@v1");

        Assert.EndsWith(commit, folder);
        Assert.Equal(commit, File.ReadAllText(Path.Combine(tmp.Path, "models--tessera-test--tiny-model", "refs", "v1")));
        await Assert.ThrowsAsync<DirectoryNotFoundException>(() => client.GetModelFolderAsync("../not a repo"));
    }

    [Fact]
    public async Task A_mistyped_local_path_is_a_missing_folder_not_a_hub_lookup()
    {
        await using var hub = await FakeHub.StartAsync();
        using var tmp = new TempDirectory("tessera-hub-");
        using var client = hub.Client(tmp.Path);
        Directory.CreateDirectory(Path.Combine(tmp.Path, "runs"));
        string typo = Path.Combine(Path.GetRelativePath(Environment.CurrentDirectory, tmp.Path), "runs", "typo");

        foreach (string path in new[] { typo, "./runs/typo", "/nowhere/model" })
        {
            var e = await Assert.ThrowsAsync<DirectoryNotFoundException>(() => client.GetModelFolderAsync(path));
            Assert.Contains("does not exist", e.Message);
        }
        Assert.DoesNotContain(hub.Requests, r => r.Path.Contains("typo", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_listed_file_path_that_escapes_the_snapshot_is_refused()
    {
        await using var hub = await FakeHub.StartAsync();
        hub.Commit(RepoId, new Dictionary<string, byte[]> { ["../../evil.txt"] = Config });
        using var tmp = new TempDirectory("tessera-hub-");
        using var client = hub.Client(tmp.Path);

        var error = await Assert.ThrowsAsync<HubException>(() => client.SnapshotDownloadAsync(RepoId));

        Assert.Contains("not a safe relative path", error.Message);
        Assert.False(File.Exists(Path.Combine(tmp.Path, "evil.txt")));
    }

    [Fact]
    public async Task Renamed_repository_redirect_is_followed_and_cached_under_the_requested_id()
    {
        await using var hub = await FakeHub.StartAsync();
        string commit = hub.Commit(RepoId, ThreeFiles());
        hub.Renamed["tessera-test/old-name"] = RepoId;
        using var tmp = new TempDirectory("tessera-hub-");
        using var client = hub.Client(tmp.Path);

        string config = await client.DownloadFileAsync("tessera-test/old-name", "config.json");
        string weights = await client.DownloadFileAsync("tessera-test/old-name", "model.safetensors");

        Assert.Equal(Path.Combine(tmp.Path, "models--tessera-test--old-name", "snapshots", commit, "config.json"), config);
        Assert.Equal(Config, File.ReadAllBytes(config));
        Assert.Equal(FakeHub.Sha256(Weights), Sha256Of(weights));
    }

    [Fact]
    public async Task Server_that_ignores_the_range_restarts_the_file_from_zero()
    {
        await using var hub = await FakeHub.StartAsync();
        hub.Commit(RepoId, ThreeFiles());
        hub.DropHalfway["model.safetensors"] = 1;
        hub.IgnoreRange = true;
        using var tmp = new TempDirectory("tessera-hub-");
        using var client = hub.Client(tmp.Path);
        var reports = new List<HubProgress>();

        string path = await client.DownloadFileAsync(RepoId, "model.safetensors", progress: new SynchronousProgress(reports.Add));

        Assert.Equal(FakeHub.Sha256(Weights), Sha256Of(path));
        Assert.InRange(RangeStart(hub.Requests.Last(r => r.Method == "GET").Range), 1, Weights.Length - 1);
        Assert.Equal(Weights.Length, reports[^1].BytesDownloaded);
        Assert.Equal(Weights.Length, reports[^1].TotalBytes);
        Assert.Equal(1, reports[^1].FilesCompleted);
    }

    [Fact]
    public async Task Files_with_the_same_content_share_one_blob()
    {
        await using var hub = await FakeHub.StartAsync();
        string commit = hub.Commit(RepoId, new Dictionary<string, byte[]> { ["a.bin"] = Weights, ["copy/a.bin"] = Weights, ["b.json"] = Config });
        using var tmp = new TempDirectory("tessera-hub-");
        using var client = hub.Client(tmp.Path);

        string folder = await client.SnapshotDownloadAsync(RepoId);

        Assert.Equal(2, Directory.GetFiles(Path.Combine(tmp.Path, "models--tessera-test--tiny-model", "blobs")).Length);
        Assert.Equal(Weights, File.ReadAllBytes(Path.Combine(folder, "copy", "a.bin")));
        Assert.Equal(1, hub.Requests.Count(r => r.Method == "GET" && r.Path.StartsWith("/cdn/", StringComparison.Ordinal)));
    }

    [Fact]
    public async Task Two_clients_on_one_cache_download_a_file_once_each_waiting_for_the_other()
    {
        await using var hub = await FakeHub.StartAsync();
        hub.Commit(RepoId, ThreeFiles());
        hub.BodyDelay = TimeSpan.FromMilliseconds(300);
        using var tmp = new TempDirectory("tessera-hub-");
        using var first = hub.Client(tmp.Path);
        using var second = hub.Client(tmp.Path);

        string[] paths = await Task.WhenAll(
            first.DownloadFileAsync(RepoId, "model.safetensors"),
            second.DownloadFileAsync(RepoId, "model.safetensors"));

        Assert.Equal(paths[0], paths[1]);
        Assert.Equal(FakeHub.Sha256(Weights), Sha256Of(paths[0]));
        Assert.Equal(1, hub.Requests.Count(r => r.Method == "GET" && r.Path.StartsWith("/cdn/", StringComparison.Ordinal)));
        Assert.Single(Directory.GetFiles(Path.Combine(tmp.Path, "models--tessera-test--tiny-model", "blobs")));
    }

    sealed class SynchronousProgress(Action<HubProgress> report) : IProgress<HubProgress>
    {
        public void Report(HubProgress value) => report(value);
    }
}
