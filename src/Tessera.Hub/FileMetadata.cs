namespace Tessera.Hub;

/// <summary>What the hub's answer to <c>resolve/{revision}/{file}</c> says about a file before its bytes are fetched.</summary>
/// <param name="Commit">The commit the revision resolved to (X-Repo-Commit).</param>
/// <param name="ETag">The unquoted ETag: the sha256 for LFS files (X-Linked-Etag), the git blob id otherwise.</param>
/// <param name="Size">The file size (X-Linked-Size or Content-Length), when known.</param>
/// <param name="DownloadUri">Where the bytes are: the resolve URL, or where the hub redirected to (e.g. a CDN).</param>
internal sealed record FileMetadata(string Commit, string ETag, long? Size, Uri DownloadUri)
{
    /// <summary>Whether the ETag is a sha256 the downloaded bytes must match.</summary>
    public bool IsSha256 => ETag.Length == 64 && ETag.All(char.IsAsciiHexDigit);
}
