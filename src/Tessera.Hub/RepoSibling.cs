using System.Text.Json.Serialization;

namespace Tessera.Hub;

/// <summary>One file of a repository, as listed in <see cref="HubRepoInfo.Siblings"/>.</summary>
public sealed record RepoSibling
{
    /// <summary>The path relative to the repository root, with <c>/</c> separators.</summary>
    [JsonPropertyName("rfilename")]
    public string RFilename { get; init; } = "";

    /// <summary>The size in bytes, when the hub reported it.</summary>
    [JsonPropertyName("size")]
    public long? Size { get; init; }

    /// <summary>The git blob id of the file (for LFS files, of the pointer).</summary>
    [JsonPropertyName("blobId")]
    public string? BlobId { get; init; }

    /// <summary>LFS details for files stored in git LFS; null for plain git files.</summary>
    [JsonPropertyName("lfs")]
    public LfsInfo? Lfs { get; init; }
}
