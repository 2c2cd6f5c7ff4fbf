namespace Tessera.Tracking.Runs;

/// <summary>A file or folder a run wrote (or, for <see cref="ArtifactKind.Dataset"/>, read), with its content hash.</summary>
/// <param name="Path">Its full path when recorded.</param>
/// <param name="Kind">What it is.</param>
/// <param name="Sha256">The <see cref="ContentFingerprint"/> hash: of the bytes for a file, of every file in a stable order for a folder.</param>
/// <param name="Size">Total bytes.</param>
/// <param name="FileCount">1 for a file; the number of files for a folder.</param>
public sealed record ArtifactInfo(string Path, ArtifactKind Kind, string Sha256, long Size, int FileCount);
