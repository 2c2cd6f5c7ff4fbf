namespace Tessera.Hub;

/// <summary>
/// Where a download stands, summed over every file of the call. Reports are made in order (never concurrently),
/// and the last one has <see cref="BytesDownloaded"/> equal to <see cref="TotalBytes"/> when every size was known.
/// </summary>
/// <param name="BytesDownloaded">Bytes in place so far: received, resumed from a partial file, or already cached.</param>
/// <param name="TotalBytes">The bytes all files add up to; null while a size is unknown.</param>
/// <param name="FilesCompleted">Files finished (downloaded or found in the cache).</param>
/// <param name="TotalFiles">Files in the call.</param>
/// <param name="CurrentFile">The file whose progress caused this report, if any.</param>
public readonly record struct HubProgress(long BytesDownloaded, long? TotalBytes, int FilesCompleted, int TotalFiles, string? CurrentFile);
