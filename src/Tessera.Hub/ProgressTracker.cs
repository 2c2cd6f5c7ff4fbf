namespace Tessera.Hub;

/// <summary>Sums byte and file counts over concurrent downloads into one ordered stream of <see cref="HubProgress"/> reports.</summary>
internal sealed class ProgressTracker(IProgress<HubProgress>? progress, long? totalBytes, int totalFiles)
{
    readonly Lock gate = new();
    long bytes;
    long? total = totalBytes;
    int filesDone;

    public void SetTotalIfUnknown(long? size)
    {
        lock (gate) total ??= size;
    }

    public void AddBytes(long delta, string file)
    {
        if (delta == 0) return;
        lock (gate)
        {
            bytes += delta;
            progress?.Report(new HubProgress(bytes, total, filesDone, totalFiles, file));
        }
    }

    public void FileDone(string file)
    {
        lock (gate)
        {
            filesDone++;
            progress?.Report(new HubProgress(bytes, total, filesDone, totalFiles, file));
        }
    }
}
