namespace Tessera.Hub;

/// <summary>Sums byte and file counts over concurrent downloads into one ordered stream of <see cref="HubProgress"/> reports.</summary>
/// <param name="progress">Where reports go.</param>
/// <param name="totalBytes">The total, when known up front (a snapshot whose file sizes were all listed).</param>
/// <param name="totalFiles">Files in the call.</param>
/// <param name="learnTotal">Take the total from the first file's size (a single-file download).</param>
internal sealed class ProgressTracker(IProgress<HubProgress>? progress, long? totalBytes, int totalFiles, bool learnTotal = false)
{
    readonly Lock gate = new();
    long bytes;
    long? total = totalBytes;
    int filesDone;

    public void LearnTotal(long? size)
    {
        if (!learnTotal) return;
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
