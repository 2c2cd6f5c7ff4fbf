using Tessera.Tests.Shared;

namespace Tessera.Hub.Tests;

public sealed class HubCacheTests
{
    const string Commit = "0123456789abcdef0123456789abcdef01234567";

    [Theory]
    [InlineData("HuggingFaceTB/SmolLM-135M", "models--HuggingFaceTB--SmolLM-135M")]
    [InlineData("gpt2", "models--gpt2")]
    [InlineData("org/name.v1_x", "models--org--name.v1_x")]
    public void Repo_folder_names_follow_huggingface_hub(string repoId, string folder) =>
        Assert.Equal(folder, HubCache.RepoFolderName(repoId));

    [Theory]
    [InlineData("")]
    [InlineData("a/b/c")]
    [InlineData("../etc")]
    [InlineData("org/..")]
    [InlineData("org/na--me")]
    [InlineData("org/na me")]
    [InlineData("/abs")]
    public void Invalid_repo_ids_are_rejected(string repoId) =>
        Assert.Throws<ArgumentException>(() => HubCache.RepoFolderName(repoId));

    [Theory]
    [InlineData("../escape")]
    [InlineData("a/../../escape")]
    [InlineData("/etc/passwd")]
    [InlineData("a//b")]
    [InlineData("a\\b")]
    public void Filenames_that_leave_the_snapshot_are_rejected(string filename) =>
        Assert.Throws<ArgumentException>(() => HubCache.ValidateFilename(filename));

    [Fact]
    public void Cached_file_is_found_through_refs_or_commit_and_a_dangling_link_does_not_count()
    {
        using var tmp = new TempDirectory("tessera-hub-");
        var cache = new HubCache(tmp.Path);
        string blob = cache.BlobPath("org/m", "abc123");
        Directory.CreateDirectory(Path.GetDirectoryName(blob)!);
        File.WriteAllText(blob, "hello");
        cache.LinkSnapshotFile("org/m", Commit, "sub/file.txt", blob);
        cache.WriteRef("org/m", "main", Commit);

        Assert.True(cache.TryGetCachedFile("org/m", "sub/file.txt", "main", out string? viaRef));
        Assert.True(cache.TryGetCachedFile("org/m", "sub/file.txt", Commit, out string? viaCommit));
        Assert.Equal(viaRef, viaCommit);
        Assert.Equal("hello", File.ReadAllText(viaRef));
        Assert.False(cache.TryGetCachedFile("org/m", "sub/file.txt", "dev", out _));
        Assert.False(cache.TryGetCachedFile("org/m", "other.txt", "main", out _));
        Assert.True(cache.TryGetSnapshotFolder("org/m", "main", out string? folder));
        Assert.Equal(cache.SnapshotPath("org/m", Commit), folder);

        File.Delete(blob);
        Assert.False(cache.TryGetCachedFile("org/m", "sub/file.txt", "main", out _));
    }

    [Fact]
    public void Refs_with_slashes_are_nested_folders()
    {
        using var tmp = new TempDirectory("tessera-hub-");
        var cache = new HubCache(tmp.Path);
        cache.WriteRef("org/m", "refs/pr/1", Commit);

        Assert.Equal(Commit, File.ReadAllText(Path.Combine(tmp.Path, "models--org--m", "refs", "refs", "pr", "1")));
        Assert.Equal(Commit, cache.ResolveCommit("org/m", "refs/pr/1"));
        Assert.Throws<ArgumentException>(() => cache.ResolveCommit("org/m", "../../x"));
    }

    [Fact]
    public void ETags_are_unquoted_and_unweakened()
    {
        Assert.Equal("abc", HubClient.NormalizeETag("W/\"abc\""));
        Assert.Equal("abc", HubClient.NormalizeETag("\"abc\""));
        Assert.Null(HubClient.NormalizeETag("\"\""));
    }
}
