namespace Tessera.Tracking.Runs;

/// <summary>A dataset a run read, identified by content.</summary>
/// <param name="Name">Its name in the run (<c>fashion-mnist</c>, <c>train</c>, a Hub repo id).</param>
/// <param name="Source">Where it came from: a local path, or <c>hf://datasets/{repo}</c>.</param>
/// <param name="Revision">The resolved Hub commit, when it came from the Hub.</param>
/// <param name="Sha256">The <see cref="ContentFingerprint"/> of its files.</param>
/// <param name="Size">Total bytes.</param>
/// <param name="FileCount">Number of files.</param>
public sealed record DatasetInfo(string Name, string Source, string? Revision, string Sha256, long Size, int FileCount)
{
    /// <summary>Fingerprints the file or folder at <paramref name="path"/> as dataset <paramref name="name"/>.</summary>
    public static DatasetInfo FromPath(string name, string path, string? revision = null)
    {
        string full = System.IO.Path.GetFullPath(path);
        var fingerprint = ContentFingerprint.Compute(full);
        return new DatasetInfo(name, full, revision, fingerprint.Sha256, fingerprint.Size, fingerprint.FileCount);
    }
}
