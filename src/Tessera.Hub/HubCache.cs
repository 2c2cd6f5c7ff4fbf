using System.Diagnostics.CodeAnalysis;
using System.Text;

namespace Tessera.Hub;

/// <summary>
/// The huggingface_hub cache layout, read and written the way the Python library does, so both share one cache:
/// <code>
/// {cache}/models--{org}--{name}/           (datasets--{org}--{name}/ for a dataset repository)
///     blobs/{etag}                         file contents, named by ETag (sha256 for LFS files, git sha1 otherwise)
///     snapshots/{commit}/{filename}        symlink to ../../blobs/{etag} (a copy where symlinks are not allowed)
///     refs/{revision}                      the commit hash a branch or tag pointed to when last resolved
/// </code>
/// </summary>
public sealed class HubCache
{
    /// <summary>Uses <paramref name="cacheDir"/> as the cache root (the folder that holds <c>models--*</c> folders).</summary>
    public HubCache(string cacheDir)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(cacheDir);
        CacheDir = Path.GetFullPath(cacheDir);
    }

    /// <summary>The cache root.</summary>
    public string CacheDir { get; }

    /// <summary>
    /// The folder name of a repository: <c>org/name</c> gives <c>models--org--name</c>, or <c>datasets--org--name</c>
    /// for a dataset (huggingface_hub's <c>repo_folder_name</c>).
    /// </summary>
    /// <exception cref="ArgumentException">The repository id is not valid.</exception>
    public static string RepoFolderName(string repoId, RepoType repoType = RepoType.Model)
    {
        ValidateRepoId(repoId);
        return repoType.Plural() + "--" + repoId.Replace("/", "--", StringComparison.Ordinal);
    }

    /// <summary>Checks that <paramref name="repoId"/> is <c>name</c> or <c>org/name</c> with the characters the hub allows.</summary>
    /// <exception cref="ArgumentException">The id is empty, has more than one '/', or has characters or sequences ('--', '..') the hub rejects.</exception>
    public static void ValidateRepoId(string repoId)
    {
        ArgumentNullException.ThrowIfNull(repoId);
        string[] parts = repoId.Split('/');
        bool ok = parts.Length is 1 or 2 && repoId.Length <= 96 && !repoId.Contains("--", StringComparison.Ordinal)
            && !repoId.Contains("..", StringComparison.Ordinal)
            && parts.All(p => p.Length > 0 && p[0] is not ('-' or '.') && p[^1] is not ('-' or '.')
                && p.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.'));
        if (!ok)
            throw new ArgumentException(
                $"'{repoId}' is not a valid repository id: expected 'name' or 'org/name' of letters, digits, '-', '_' and '.', " +
                "without '--' or '..', at most 96 characters.", nameof(repoId));
    }

    /// <summary>The repository's folder in the cache (it may not exist).</summary>
    public string RepoPath(string repoId, RepoType repoType = RepoType.Model) => Path.Combine(CacheDir, RepoFolderName(repoId, repoType));

    /// <summary>The folder of one commit's files.</summary>
    public string SnapshotPath(string repoId, string commitHash, RepoType repoType = RepoType.Model)
    {
        if (!RepoReference.IsCommitHash(commitHash))
            throw new ArgumentException($"'{commitHash}' is not a 40-hex commit hash.", nameof(commitHash));
        return Path.Combine(RepoPath(repoId, repoType), "snapshots", commitHash);
    }

    /// <summary>Where the blob with <paramref name="etag"/> (unquoted) lives.</summary>
    public string BlobPath(string repoId, string etag, RepoType repoType = RepoType.Model)
    {
        if (etag.Length == 0 || etag.Any(c => !(char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.')) || etag.StartsWith('.'))
            throw new ArgumentException($"ETag '{etag}' cannot name a blob file.", nameof(etag));
        return Path.Combine(RepoPath(repoId, repoType), "blobs", etag);
    }

    /// <summary>The commit a revision stands for: a commit hash itself, or the hash stored in <c>refs/{revision}</c>; null if unknown.</summary>
    public string? ResolveCommit(string repoId, string revision, RepoType repoType = RepoType.Model)
    {
        if (RepoReference.IsCommitHash(revision)) return revision;
        ValidateRevision(revision);
        string refPath = Path.Combine(RepoPath(repoId, repoType), "refs", revision);
        if (!File.Exists(refPath)) return null;
        string commit = File.ReadAllText(refPath).Trim();
        return RepoReference.IsCommitHash(commit) ? commit : null;
    }

    /// <summary>Finds <paramref name="filename"/> of a repository at a revision in the cache, without any request.</summary>
    /// <param name="repoId">The repository id.</param>
    /// <param name="filename">The path in the repository, with '/' separators.</param>
    /// <param name="revision">A branch or tag (looked up in refs/) or a commit hash.</param>
    /// <param name="path">The snapshot path of the file when found.</param>
    /// <param name="repoType">The kind of repository.</param>
    /// <returns>Whether the file is cached (a dangling symlink does not count).</returns>
    public bool TryGetCachedFile(string repoId, string filename, string revision, [NotNullWhen(true)] out string? path, RepoType repoType = RepoType.Model)
    {
        path = null;
        ValidateFilename(filename);
        if (ResolveCommit(repoId, revision, repoType) is not { } commit) return false;
        string candidate = SnapshotFilePath(repoId, commit, filename, repoType);
        if (!IsUsableFile(candidate)) return false;
        path = candidate;
        return true;
    }

    /// <summary>Finds the snapshot folder of a repository at a revision in the cache, without any request.</summary>
    /// <returns>Whether the folder exists. It holds the files downloaded so far, which may not be all of the repository.</returns>
    public bool TryGetSnapshotFolder(string repoId, string revision, [NotNullWhen(true)] out string? path, RepoType repoType = RepoType.Model)
    {
        path = null;
        if (ResolveCommit(repoId, revision, repoType) is not { } commit) return false;
        string candidate = SnapshotPath(repoId, commit, repoType);
        if (!Directory.Exists(candidate)) return false;
        path = candidate;
        return true;
    }

    /// <summary>The snapshot path of a file at a commit (it may not exist).</summary>
    public string SnapshotFilePath(string repoId, string commitHash, string filename, RepoType repoType = RepoType.Model)
    {
        ValidateFilename(filename);
        return Path.Combine([SnapshotPath(repoId, commitHash, repoType), .. filename.Split('/')]);
    }

    /// <summary>Checks that a repository path is relative, uses '/' separators and never leaves the snapshot folder.</summary>
    /// <exception cref="ArgumentException">The path is empty, absolute, or has empty, '.' or '..' segments or a backslash.</exception>
    public static void ValidateFilename(string filename)
    {
        ArgumentNullException.ThrowIfNull(filename);
        bool ok = filename.Length > 0 && !filename.Contains('\\') && !filename.Contains('\0') && !Path.IsPathRooted(filename)
            && filename.Split('/').All(s => s.Length > 0 && s is not ("." or ".."));
        if (!ok) throw new ArgumentException($"'{filename}' is not a valid file path in a repository.", nameof(filename));
    }

    internal static void ValidateRevision(string revision)
    {
        ArgumentNullException.ThrowIfNull(revision);
        bool ok = revision.Length > 0 && !revision.Contains('\\') && !revision.Contains('\0') && !Path.IsPathRooted(revision)
            && revision.Split('/').All(s => s.Length > 0 && s is not ("." or ".."));
        if (!ok) throw new ArgumentException($"'{revision}' is not a valid revision.", nameof(revision));
    }

    /// <summary>Records that <paramref name="revision"/> (a branch or tag) points at <paramref name="commitHash"/>; a commit hash revision writes nothing.</summary>
    internal void WriteRef(string repoId, string revision, string commitHash, RepoType repoType = RepoType.Model)
    {
        if (RepoReference.IsCommitHash(revision) || revision == commitHash) return;
        ValidateRevision(revision);
        string refPath = Path.Combine(RepoPath(repoId, repoType), "refs", revision);
        if (File.Exists(refPath) && File.ReadAllText(refPath).Trim() == commitHash) return;
        Directory.CreateDirectory(Path.GetDirectoryName(refPath)!);
        string temp = $"{refPath}.{Environment.ProcessId}.{Guid.NewGuid():N}.tmp";
        try
        {
            File.WriteAllText(temp, commitHash, new UTF8Encoding(false));
            File.Move(temp, refPath, overwrite: true);
        }
        finally { TryDelete(temp); }
    }

    /// <summary>Points <c>snapshots/{commit}/{filename}</c> at the blob: a relative symlink, or a copy where symlinks fail.</summary>
    internal string LinkSnapshotFile(string repoId, string commitHash, string filename, string blobPath, RepoType repoType = RepoType.Model)
    {
        string target = SnapshotFilePath(repoId, commitHash, filename, repoType);
        string dir = Path.GetDirectoryName(target)!;
        Directory.CreateDirectory(dir);
        if (File.Exists(target) || new FileInfo(target).LinkTarget is not null) File.Delete(target);
        try
        {
            File.CreateSymbolicLink(target, Path.GetRelativePath(dir, blobPath));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or PlatformNotSupportedException)
        {
            // Windows without developer mode refuses symlinks; huggingface_hub copies then too.
            string temp = $"{target}.{Guid.NewGuid():N}.tmp";
            try
            {
                File.Copy(blobPath, temp);
                File.Move(temp, target, overwrite: true);
            }
            finally { TryDelete(temp); }
        }
        return target;
    }

    internal static bool IsUsableFile(string path)
    {
        var info = new FileInfo(path);
        if (info.LinkTarget is null) return info.Exists;
        return info.ResolveLinkTarget(returnFinalTarget: true) is { Exists: true };
    }

    internal static void TryDelete(string path)
    {
        try { if (File.Exists(path)) File.Delete(path); }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
    }
}
