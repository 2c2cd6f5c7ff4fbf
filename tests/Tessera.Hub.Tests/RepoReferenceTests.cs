namespace Tessera.Hub.Tests;

public sealed class RepoReferenceTests
{
    [Fact]
    public void Parses_repo_with_and_without_revision()
    {
        Assert.Equal(new RepoReference("HuggingFaceTB/SmolLM-135M", "main"), RepoReference.Parse("HuggingFaceTB/SmolLM-135M"));
        Assert.Equal(new RepoReference("gpt2", "v1.0"), RepoReference.Parse("gpt2@v1.0"));
        Assert.Equal("org/m@refs/pr/1", RepoReference.Parse("org/m@refs/pr/1").ToString());
    }

    [Fact]
    public void Rejects_bad_references()
    {
        Assert.Throws<ArgumentException>(() => RepoReference.Parse("org/m@"));
        Assert.Throws<ArgumentException>(() => RepoReference.Parse("a/b/c"));
        Assert.False(RepoReference.TryParse("not a repo", out _));
    }

    [Fact]
    public void Commit_hashes_are_40_lowercase_hex()
    {
        Assert.True(RepoReference.IsCommitHash(new string('a', 40)));
        Assert.False(RepoReference.IsCommitHash("main"));
        Assert.False(RepoReference.IsCommitHash(new string('A', 40)));
    }
}
