using System.Collections.Concurrent;
using System.Net;
using System.Security.Cryptography;

namespace Tessera.Hub;

public sealed partial class HubClient
{
    const int CopyBufferSize = 1 << 16;
    readonly ConcurrentDictionary<string, SemaphoreSlim> blobLocks = new();

    /// <summary>
    /// Downloads one file of a repository into the cache and returns its snapshot path
    /// <c>{cache}/models--org--name/snapshots/{commit}/{filename}</c> (a symlink to <c>blobs/{etag}</c>). A file
    /// already cached for that commit is not fetched again; a partial download (<c>blobs/{etag}.incomplete</c>)
    /// continues with a Range request; an LFS file is checked against the sha256 in its ETag. A branch or tag
    /// revision updates <c>refs/{revision}</c>. Offline, or when the hub cannot be reached, the cached copy is returned.
    /// </summary>
    /// <param name="repoId">The repository id, e.g. <c>gpt2</c> or <c>HuggingFaceTB/SmolLM-135M</c>.</param>
    /// <param name="filename">The path in the repository, with '/' separators.</param>
    /// <param name="revision">A branch, tag or commit hash.</param>
    /// <param name="progress">Receives byte counts for this file.</param>
    /// <param name="cancellationToken">Cancels the download; the partial file is kept and resumes next time.</param>
    /// <exception cref="RepositoryNotFoundException">No such repository.</exception>
    /// <exception cref="RevisionNotFoundException">No such branch, tag or commit.</exception>
    /// <exception cref="EntryNotFoundException">The repository has no such file at that revision.</exception>
    /// <exception cref="GatedRepoException">A token is needed, or the token has no access.</exception>
    /// <exception cref="LocalEntryNotFoundException">Offline (or unreachable) and the file is not cached.</exception>
    /// <exception cref="HubChecksumException">The bytes do not match the announced sha256.</exception>
    /// <exception cref="HubException">The download broke off more often than <see cref="HubOptions.MaxRetries"/>, or another failure.</exception>
    public Task<string> DownloadFileAsync(string repoId, string filename, string revision = RepoReference.DefaultRevision,
        IProgress<HubProgress>? progress = null, CancellationToken cancellationToken = default) =>
        DownloadFileAsync(repoId, RepoType.Model, filename, revision, progress, cancellationToken);

    /// <summary>
    /// Downloads one file of a repository of kind <paramref name="repoType"/> (a dataset file comes from
    /// <c>/datasets/{repo}/resolve/{revision}/{filename}</c> into <c>datasets--org--name</c>); otherwise as
    /// <see cref="DownloadFileAsync(string, string, string, IProgress{HubProgress}?, CancellationToken)"/>.
    /// </summary>
    /// <param name="repoId">The repository id.</param>
    /// <param name="repoType">Model or dataset.</param>
    /// <param name="filename">The path in the repository, with '/' separators.</param>
    /// <param name="revision">A branch, tag or commit hash.</param>
    /// <param name="progress">Receives byte counts for this file.</param>
    /// <param name="cancellationToken">Cancels the download; the partial file is kept and resumes next time.</param>
    /// <exception cref="HubException">See the other overload.</exception>
    public async Task<string> DownloadFileAsync(string repoId, RepoType repoType, string filename, string revision = RepoReference.DefaultRevision,
        IProgress<HubProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        HubCache.ValidateRepoId(repoId);
        HubCache.ValidateFilename(filename);
        HubCache.ValidateRevision(revision);
        var tracker = new ProgressTracker(progress, null, 1, learnTotal: true);
        return await DownloadCoreAsync(repoId, repoType, filename, revision, tracker, cancellationToken).ConfigureAwait(false);
    }

    async Task<string> DownloadCoreAsync(string repoId, RepoType repoType, string filename, string revision, ProgressTracker tracker, CancellationToken ct)
    {
        if (Options.Offline) return CachedFileOrThrow(repoId, repoType, filename, revision, tracker, "offline mode (HF_HUB_OFFLINE)", null);
        // A commit never changes, so a cached file at a commit needs no request at all.
        if (RepoReference.IsCommitHash(revision) && Cache.TryGetCachedFile(repoId, filename, revision, out string? pinned, repoType))
            return Done(pinned, filename, tracker);

        FileMetadata meta;
        try
        {
            meta = await GetFileMetadataAsync(repoId, repoType, filename, revision, ct).ConfigureAwait(false);
        }
        catch (HttpRequestException e)
        {
            return CachedFileOrThrow(repoId, repoType, filename, revision, tracker, $"the hub at {Options.Endpoint} could not be reached ({e.Message})", e);
        }
        tracker.LearnTotal(meta.Size);
        Cache.WriteRef(repoId, revision, meta.Commit, repoType);

        string snapshotFile = Cache.SnapshotFilePath(repoId, meta.Commit, filename, repoType);
        if (HubCache.IsUsableFile(snapshotFile)) return Done(snapshotFile, filename, tracker);

        string blob = Cache.BlobPath(repoId, meta.ETag, repoType);
        SemaphoreSlim blobLock = blobLocks.GetOrAdd(blob, _ => new SemaphoreSlim(1, 1));
        await blobLock.WaitAsync(ct).ConfigureAwait(false);
        try
        {
            if (File.Exists(blob)) tracker.AddBytes(new FileInfo(blob).Length, filename);
            else await DownloadBlobAsync(repoId, repoType, filename, revision, meta, blob, tracker, ct).ConfigureAwait(false);
            Cache.LinkSnapshotFile(repoId, meta.Commit, filename, blob, repoType);
        }
        finally { blobLock.Release(); }
        tracker.FileDone(filename);
        return snapshotFile;
    }

    static string Done(string path, string filename, ProgressTracker tracker)
    {
        tracker.AddBytes(LengthOf(path), filename);
        tracker.FileDone(filename);
        return path;
    }

    static long LengthOf(string path) =>
        new FileInfo(path).ResolveLinkTarget(returnFinalTarget: true) as FileInfo is { } target ? target.Length : new FileInfo(path).Length;

    string CachedFileOrThrow(string repoId, RepoType repoType, string filename, string revision, ProgressTracker tracker, string why, Exception? inner)
    {
        if (Cache.TryGetCachedFile(repoId, filename, revision, out string? path, repoType)) return Done(path, filename, tracker);
        throw new LocalEntryNotFoundException(
            $"Cannot download {Describe(repoId, repoType, revision, filename)}: {why}, and it is not in the cache at {Cache.CacheDir}.",
            repoId, revision, filename, null, inner);
    }

    /// <summary>Asks <c>HEAD resolve/{revision}/{filename}</c> for the commit, ETag, size and where the bytes are.</summary>
    async Task<FileMetadata> GetFileMetadataAsync(string repoId, RepoType repoType, string filename, string revision, CancellationToken ct)
    {
        Uri resolve = http.Url($"{repoType.UrlPrefix()}{repoId}/resolve/{Uri.EscapeDataString(revision)}/{string.Join('/', filename.Split('/').Select(Uri.EscapeDataString))}");
        // Like huggingface_hub: follow same-site redirects (a renamed repository, a resolve cache) and collect the
        // hub's headers on the way, but stop at the redirect to the bytes (an LFS file on a CDN) or to another site.
        string? commit = null, linkedEtag = null;
        long? linkedSize = null;
        void Collect(HttpResponseMessage r)
        {
            commit ??= HubHttp.Header(r, "X-Repo-Commit");
            linkedEtag ??= HubHttp.Header(r, "X-Linked-Etag");
            if (linkedSize is null && long.TryParse(HubHttp.Header(r, "X-Linked-Size"), out long n)) linkedSize = n;
        }
        using var response = await http.SendAsync(HttpMethod.Head, resolve, null, (r, next) =>
        {
            Collect(r);
            return linkedEtag is not null || !HubHttp.SameOrigin(next, http.Endpoint);
        }, ct).ConfigureAwait(false);
        bool redirect = HubHttp.IsRedirect(response.StatusCode);
        if (!response.IsSuccessStatusCode && !redirect)
            throw await http.ErrorAsync(response, repoId, revision, filename, ct, repoType).ConfigureAwait(false);
        if (!redirect) Collect(response);

        string? etag = linkedEtag ?? response.Headers.ETag?.Tag ?? HubHttp.Header(response, "ETag");
        long? length = linkedSize ?? (redirect ? null : response.Content.Headers.ContentLength);
        if (commit is null || !RepoReference.IsCommitHash(commit))
            throw new HubException($"The hub's answer for {Describe(repoId, repoType, revision, filename)} has no commit hash (X-Repo-Commit); is {Options.Endpoint} a Hugging Face hub?",
                repoId, revision, filename, response.StatusCode);
        if (NormalizeETag(etag) is not { } tag)
            throw new HubException($"The hub's answer for {Describe(repoId, repoType, revision, filename)} has no ETag, so the file cannot be cached.",
                repoId, revision, filename, response.StatusCode);
        Uri at = response.RequestMessage?.RequestUri ?? resolve;
        Uri location = redirect && response.Headers.Location is { } loc ? (loc.IsAbsoluteUri ? loc : new Uri(at, loc)) : at;
        return new FileMetadata(commit, tag, length, location);
    }

    /// <summary><c>W/"abc"</c> and <c>"abc"</c> become <c>abc</c>; null when nothing usable is left.</summary>
    internal static string? NormalizeETag(string? etag)
    {
        if (etag is null) return null;
        string tag = etag.Trim();
        if (tag.StartsWith("W/", StringComparison.Ordinal)) tag = tag[2..];
        tag = tag.Trim('"');
        return tag.Length == 0 ? null : tag;
    }

    async Task DownloadBlobAsync(string repoId, RepoType repoType, string filename, string revision, FileMetadata meta, string blob, ProgressTracker tracker, CancellationToken ct)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(blob)!);
        string incomplete = blob + ".incomplete";
        FileStream? file = null;
        while (file is null)
        {
            try
            {
                // FileShare.None also takes an advisory lock on Unix, so two processes never write one partial file.
                file = new FileStream(incomplete, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None, CopyBufferSize, FileOptions.Asynchronous);
            }
            catch (IOException) when (File.Exists(incomplete) || File.Exists(blob))
            {
                // Another client or process is downloading this blob; the lock goes when it finishes or dies.
                await Task.Delay(TimeSpan.FromMilliseconds(100), ct).ConfigureAwait(false);
            }
        }
        if (File.Exists(blob))
        {
            // It finished while we waited.
            await file.DisposeAsync().ConfigureAwait(false);
            HubCache.TryDelete(incomplete);
            tracker.AddBytes(new FileInfo(blob).Length, filename);
            return;
        }

        await using (file)
        {
            if (meta.Size is { } expected && file.Length > expected) file.SetLength(0);
            long resumed = file.Length;
            tracker.AddBytes(resumed, filename);
            for (int attempt = 0; ; attempt++)
            {
                try
                {
                    if (meta.Size is not { } size || file.Length < size)
                        await FetchIntoAsync(repoId, repoType, filename, revision, meta, file, tracker, ct).ConfigureAwait(false);
                    if (meta.Size is { } want && file.Length != want)
                        throw new IOException($"got {file.Length} of {want} bytes");
                    break;
                }
                catch (OversizeDownloadException)
                {
                    long length = file.Length;
                    await file.DisposeAsync().ConfigureAwait(false);
                    HubCache.TryDelete(incomplete);
                    tracker.AddBytes(-length, filename);
                    throw;
                }
                catch (Exception e) when (e is IOException or HttpRequestException && !ct.IsCancellationRequested)
                {
                    if (attempt >= Options.MaxRetries)
                        throw new HubException(
                            $"Download of {Describe(repoId, repoType, revision, filename)} broke off after {file.Length} bytes ({e.Message}); " +
                            $"{attempt + 1} attempts made. Run again to resume from {incomplete}.",
                            repoId, revision, filename, inner: e);
                    await Task.Delay(TimeSpan.FromMilliseconds(200 * (attempt + 1)), ct).ConfigureAwait(false);
                }
            }

            if (meta.IsSha256)
            {
                file.Position = 0;
                string actual = Convert.ToHexStringLower(await SHA256.HashDataAsync(file, ct).ConfigureAwait(false));
                if (!string.Equals(actual, meta.ETag, StringComparison.OrdinalIgnoreCase))
                {
                    long length = file.Length;
                    await file.DisposeAsync().ConfigureAwait(false);
                    HubCache.TryDelete(incomplete);
                    tracker.AddBytes(-length, filename);
                    throw new HubChecksumException(
                        $"{Describe(repoId, repoType, revision, filename)}: the downloaded bytes have sha256 {actual} but the hub announced {meta.ETag}; the partial file was deleted.",
                        repoId, revision, filename);
                }
            }
            await file.FlushAsync(ct).ConfigureAwait(false);
            file.Flush(flushToDisk: true);
        }
        File.Move(incomplete, blob, overwrite: true);
    }

    /// <summary>One GET of the bytes not yet in <paramref name="file"/>, appended to it.</summary>
    async Task FetchIntoAsync(string repoId, RepoType repoType, string filename, string revision, FileMetadata meta, FileStream file, ProgressTracker tracker, CancellationToken ct)
    {
        long offset = file.Length;
        using var response = await http.SendAsync(HttpMethod.Get, meta.DownloadUri, offset, null, ct).ConfigureAwait(false);
        if (response.StatusCode == HttpStatusCode.RequestedRangeNotSatisfiable && response.Content.Headers.ContentRange?.Length == offset)
            return; // the partial file already holds every byte (its size was not announced)
        if (response.StatusCode == HttpStatusCode.RequestedRangeNotSatisfiable)
        {
            // The partial file does not fit what the server has: start over.
            tracker.AddBytes(-offset, filename);
            file.SetLength(0);
            throw new IOException("the server refused the byte range");
        }
        if (!response.IsSuccessStatusCode)
            throw await http.ErrorAsync(response, repoId, revision, filename, ct, repoType).ConfigureAwait(false);
        if (response.StatusCode == HttpStatusCode.PartialContent)
        {
            long? start = response.Content.Headers.ContentRange?.From;
            if (start != offset)
            {
                tracker.AddBytes(-offset, filename);
                file.SetLength(0);
                throw new IOException($"the server answered the range from {offset} with one from {start?.ToString() ?? "nowhere"}");
            }
        }
        else if (offset > 0)
        {
            // A 200 to a Range request is the whole file again.
            tracker.AddBytes(-offset, filename);
            file.SetLength(0);
        }
        file.Seek(0, SeekOrigin.End);
        long limit = meta.Size ?? Options.MaxUnannouncedFileBytes;
        if (response.Content.Headers.ContentLength is long announced && file.Length + announced > limit)
            throw Oversize(repoId, repoType, revision, filename, limit, meta.Size is not null, $"the response announces {file.Length + announced} bytes");

        await using var body = await response.Content.ReadAsStreamAsync(ct).ConfigureAwait(false);
        using var stall = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var buffer = new byte[CopyBufferSize];
        while (true)
        {
            stall.CancelAfter(Options.RequestTimeout);
            int read;
            try { read = await body.ReadAsync(buffer, stall.Token).ConfigureAwait(false); }
            catch (OperationCanceledException e) when (!ct.IsCancellationRequested)
            {
                throw new IOException($"no data for {Options.RequestTimeout.TotalSeconds:0.#} s", e);
            }
            if (read == 0) break;
            if (file.Length + read > limit)
                throw Oversize(repoId, repoType, revision, filename, limit, meta.Size is not null, $"the server sent more than {limit} bytes");
            await file.WriteAsync(buffer.AsMemory(0, read), ct).ConfigureAwait(false);
            tracker.AddBytes(read, filename);
        }
        await file.FlushAsync(ct).ConfigureAwait(false);
    }

    static OversizeDownloadException Oversize(string repoId, RepoType repoType, string revision, string filename, long limit, bool announced, string what) =>
        new($"{Describe(repoId, repoType, revision, filename)}: {what}, but " +
            (announced ? $"the hub announced {limit} bytes for this file" : $"no size was announced and {nameof(HubOptions.MaxUnannouncedFileBytes)} is {limit}") +
            "; the partial file was deleted.", repoId, revision, filename);

    /// <summary>"dataset 'org/name' at ..." for a dataset, the plain description for a model.</summary>
    static string Describe(string repoId, RepoType repoType, string? revision, string? filename) =>
        (repoType == RepoType.Model ? "" : "dataset ") + HubException.Describe(repoId, revision, filename);

    /// <summary>A download that outgrew the size it may have; never retried.</summary>
    sealed class OversizeDownloadException(string message, string repoId, string revision, string filename)
        : HubException(message, repoId, revision, filename);
}
