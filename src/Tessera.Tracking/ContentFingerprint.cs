using System.Security.Cryptography;
using System.Text;

namespace Tessera.Tracking;

/// <summary>
/// A content hash of a file or a folder tree, with its size and file count: the identity of a dataset version or of
/// a run's output. Equal content gives an equal hash on any machine, whatever the file system's listing order.
/// </summary>
/// <remarks>
/// A file's hash is the SHA-256 of its bytes. A folder's hash is the SHA-256 of a manifest with one line per file,
/// <c>{sha256 hex}  {size}  {relative path}\n</c>, paths with <c>/</c> separators sorted by ordinal (byte) order,
/// the same text as <c>find . -type f</c> sorted with <c>LC_ALL=C</c> and fed through <c>sha256sum</c> with sizes
/// added; so another tool can recompute it. Symbolic links are followed; empty folders do not count.
/// </remarks>
/// <param name="Sha256">The hash, 64 lowercase hex digits.</param>
/// <param name="Size">Total bytes of all files.</param>
/// <param name="FileCount">Number of files (1 for a file).</param>
public sealed record ContentFingerprint(string Sha256, long Size, int FileCount)
{
    /// <summary>Fingerprints the file or folder at <paramref name="path"/>.</summary>
    /// <exception cref="FileNotFoundException">Nothing exists at <paramref name="path"/>.</exception>
    public static ContentFingerprint Compute(string path)
    {
        if (File.Exists(path))
        {
            var (hash, size) = HashFile(path);
            return new ContentFingerprint(hash, size, 1);
        }
        if (!Directory.Exists(path)) throw new FileNotFoundException($"cannot fingerprint {path}: no such file or folder", path);
        var files = Directory.EnumerateFiles(path, "*", new EnumerationOptions { RecurseSubdirectories = true, AttributesToSkip = 0 })
            .Select(f => (Full: f, Relative: Path.GetRelativePath(path, f).Replace(Path.DirectorySeparatorChar, '/')))
            .OrderBy(f => f.Relative, StringComparer.Ordinal)
            .ToList();
        var manifest = new StringBuilder();
        long total = 0;
        foreach (var (full, relative) in files)
        {
            var (hash, size) = HashFile(full);
            total += size;
            manifest.Append(hash).Append("  ").Append(size).Append("  ").Append(relative).Append('\n');
        }
        return new ContentFingerprint(Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(manifest.ToString()))), total, files.Count);
    }

    static (string Hash, long Size) HashFile(string path)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, 1 << 16);
        return (Convert.ToHexStringLower(SHA256.HashData(stream)), stream.Length);
    }
}
