using System.Text.Json.Serialization;

namespace Tessera.Hub;

/// <summary>What the hub's info endpoints say about any repository at one revision (models and datasets alike).</summary>
public abstract record HubRepoInfo
{
    /// <summary>The repository id, e.g. <c>HuggingFaceTB/SmolLM-135M</c> or <c>stanfordnlp/imdb</c>.</summary>
    [JsonPropertyName("id")]
    public string Id { get; init; } = "";

    /// <summary>The commit hash the revision resolved to.</summary>
    [JsonPropertyName("sha")]
    public string? Sha { get; init; }

    /// <summary>The files in the repository at that commit.</summary>
    [JsonPropertyName("siblings")]
    public IReadOnlyList<RepoSibling> Siblings { get; init; } = [];

    /// <summary>Whether the repository is private.</summary>
    [JsonPropertyName("private")]
    public bool Private { get; init; }

    /// <summary>The repository's tags.</summary>
    [JsonPropertyName("tags")]
    public IReadOnlyList<string> Tags { get; init; } = [];

    /// <summary>The sum of the sibling sizes the hub reported (files without a size count as 0).</summary>
    [JsonIgnore]
    public long TotalSize => Siblings.Sum(s => s.Size ?? 0);
}
