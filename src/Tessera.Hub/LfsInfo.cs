using System.Text.Json.Serialization;

namespace Tessera.Hub;

/// <summary>The git LFS part of a <see cref="RepoSibling"/>.</summary>
public sealed record LfsInfo
{
    /// <summary>The lowercase hex sha256 of the file's contents (also its ETag on download).</summary>
    [JsonPropertyName("sha256")]
    public string Sha256 { get; init; } = "";

    /// <summary>The size of the contents in bytes.</summary>
    [JsonPropertyName("size")]
    public long Size { get; init; }

    /// <summary>The size of the LFS pointer file in git.</summary>
    [JsonPropertyName("pointerSize")]
    public long? PointerSize { get; init; }
}
