using System.Text.Json;
using System.Text.RegularExpressions;

namespace Tessera.Hub;

/// <summary>
/// Downloads model and dataset repositories from the Hugging Face Hub (or a mirror) into the huggingface_hub cache layout, so
/// the cache is shared with Python tools. Downloads resume after a broken connection, LFS files are checked against
/// their sha256, and with <see cref="HubOptions.Offline"/> (or no network) files resolve from the cache alone.
/// </summary>
/// <example>
/// <code>
/// using var hub = new HubClient();                       // HF_ENDPOINT, HF_TOKEN, HF_HOME, HF_HUB_OFFLINE
/// string folder = await hub.SnapshotDownloadAsync("HuggingFaceTB/SmolLM-135M");
/// </code>
/// </example>
public sealed partial class HubClient : IDisposable
{
    readonly HubHttp http;

    /// <summary>A client configured from the environment (<see cref="HubOptions.FromEnvironment()"/>).</summary>
    public HubClient() : this(HubOptions.FromEnvironment()) { }

    /// <summary>A client with explicit options.</summary>
    /// <exception cref="ArgumentException">The endpoint is not an absolute URL, or a count or timeout is not positive.</exception>
    public HubClient(HubOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (!Uri.TryCreate(options.Endpoint, UriKind.Absolute, out var endpoint) || endpoint.Scheme is not ("http" or "https"))
            throw new ArgumentException($"Endpoint '{options.Endpoint}' is not an absolute http(s) URL.", nameof(options));
        ArgumentOutOfRangeException.ThrowIfLessThan(options.MaxParallelDownloads, 1, nameof(options.MaxParallelDownloads));
        ArgumentOutOfRangeException.ThrowIfNegative(options.MaxRetries, nameof(options.MaxRetries));
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(options.RequestTimeout, TimeSpan.Zero, nameof(options.RequestTimeout));
        Options = options;
        Cache = new HubCache(options.CacheDir);
        http = new HubHttp(options);
    }

    /// <summary>The options this client was made with.</summary>
    public HubOptions Options { get; }

    /// <summary>The cache this client reads and writes.</summary>
    public HubCache Cache { get; }

    /// <summary>Fetches a repository's metadata and file list at a revision (<c>GET /api/models/{repo}/revision/{revision}</c>).</summary>
    /// <exception cref="RepositoryNotFoundException">No such repository (or private without access).</exception>
    /// <exception cref="RevisionNotFoundException">No such branch, tag or commit.</exception>
    /// <exception cref="GatedRepoException">A token is needed, or the token has no access.</exception>
    /// <exception cref="HubException">Offline, the hub could not be reached, or it answered with something else.</exception>
    public async Task<ModelInfo> GetModelInfoAsync(string repoId, string revision = RepoReference.DefaultRevision, CancellationToken cancellationToken = default) =>
        await GetInfoAsync(repoId, revision, RepoType.Model, HubJsonContext.Default.ModelInfo, cancellationToken).ConfigureAwait(false);

    /// <summary>Fetches a dataset repository's metadata and file list at a revision (<c>GET /api/datasets/{repo}/revision/{revision}</c>).</summary>
    /// <exception cref="RepositoryNotFoundException">No such dataset repository (or private without access).</exception>
    /// <exception cref="RevisionNotFoundException">No such branch, tag or commit.</exception>
    /// <exception cref="GatedRepoException">A token is needed, or the token has no access.</exception>
    /// <exception cref="HubException">Offline, the hub could not be reached, or it answered with something else.</exception>
    public async Task<HubDatasetInfo> GetDatasetInfoAsync(string repoId, string revision = RepoReference.DefaultRevision, CancellationToken cancellationToken = default) =>
        await GetInfoAsync(repoId, revision, RepoType.Dataset, HubJsonContext.Default.HubDatasetInfo, cancellationToken).ConfigureAwait(false);

    async Task<T> GetInfoAsync<T>(string repoId, string revision, RepoType repoType, System.Text.Json.Serialization.Metadata.JsonTypeInfo<T> typeInfo,
        CancellationToken cancellationToken) where T : class
    {
        HubCache.ValidateRepoId(repoId);
        HubCache.ValidateRevision(revision);
        string kind = repoType == RepoType.Model ? "model" : "dataset";
        if (Options.Offline)
            throw new HubException($"Offline mode (HF_HUB_OFFLINE): cannot fetch {kind} info for {HubException.Describe(repoId, revision, null)}.", repoId, revision);
        Uri uri = http.Url($"api/{repoType.Plural()}/{repoId}/revision/{Uri.EscapeDataString(revision)}?blobs=true");
        HttpResponseMessage response;
        try
        {
            response = await http.SendAsync(HttpMethod.Get, uri, null, null, cancellationToken).ConfigureAwait(false);
        }
        catch (HttpRequestException e)
        {
            throw new HubException($"Could not reach {Options.Endpoint} for {kind} {HubException.Describe(repoId, revision, null)}: {e.Message}", repoId, revision, inner: e);
        }
        using (response)
        {
            if (!response.IsSuccessStatusCode)
                throw await http.ErrorAsync(response, repoId, revision, null, cancellationToken, repoType).ConfigureAwait(false);
            try
            {
                await using var body = await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
                var info = await JsonSerializer.DeserializeAsync(body, typeInfo, cancellationToken).ConfigureAwait(false);
                return info ?? throw new HubException($"The hub sent an empty {kind} info for '{repoId}'.", repoId, revision);
            }
            catch (JsonException e)
            {
                throw new HubException($"The hub sent {kind} info for '{repoId}' that is not valid JSON: {e.Message}", repoId, revision, inner: e);
            }
        }
    }

    /// <summary>
    /// Downloads every file of a repository at a revision (or those matching the patterns) into the cache, several at
    /// once, and returns the snapshot folder <c>{cache}/models--org--name/snapshots/{commit}</c>. Files already cached
    /// are not downloaded again. Offline, or when the hub cannot be reached, returns the cached snapshot folder.
    /// </summary>
    /// <param name="repoId">The repository id, e.g. <c>HuggingFaceTB/SmolLM-135M</c>.</param>
    /// <param name="revision">A branch, tag or commit hash.</param>
    /// <param name="progress">Receives one ordered stream of reports summed over all files.</param>
    /// <param name="allowPatterns">If given, only files matching one of these fnmatch patterns (e.g. <c>*.json</c>).</param>
    /// <param name="ignorePatterns">Files matching one of these are skipped.</param>
    /// <param name="cancellationToken">Cancels the downloads; partial files are kept and resume next time.</param>
    /// <exception cref="LocalEntryNotFoundException">Offline (or unreachable) and the snapshot is not cached.</exception>
    /// <exception cref="HubException">See <see cref="GetModelInfoAsync"/> and <see cref="DownloadFileAsync(string, string, string, IProgress{HubProgress}?, CancellationToken)"/>.</exception>
    public async Task<string> SnapshotDownloadAsync(string repoId, string revision = RepoReference.DefaultRevision,
        IProgress<HubProgress>? progress = null, IEnumerable<string>? allowPatterns = null, IEnumerable<string>? ignorePatterns = null,
        CancellationToken cancellationToken = default) =>
        (await DownloadSnapshotAsync(repoId, RepoType.Model, revision, progress, allowPatterns, ignorePatterns, cancellationToken).ConfigureAwait(false)).Folder;

    /// <summary>
    /// Downloads every file of a model or dataset repository at a revision (or those matching the patterns) into the
    /// cache (<c>models--org--name</c> or <c>datasets--org--name</c>) and returns the snapshot with the commit the
    /// revision resolved to. Files already cached are not downloaded again; a commit hash already cached needs no
    /// request. Offline, or when the hub cannot be reached, returns the cached snapshot (its commit from <c>refs/</c>).
    /// </summary>
    /// <param name="repoId">The repository id, e.g. <c>stanfordnlp/imdb</c>.</param>
    /// <param name="repoType">Model or dataset.</param>
    /// <param name="revision">A branch, tag or commit hash.</param>
    /// <param name="progress">Receives one ordered stream of reports summed over all files.</param>
    /// <param name="allowPatterns">If given, only files matching one of these fnmatch patterns (e.g. <c>*.parquet</c>).</param>
    /// <param name="ignorePatterns">Files matching one of these are skipped.</param>
    /// <param name="cancellationToken">Cancels the downloads; partial files are kept and resume next time.</param>
    /// <exception cref="LocalEntryNotFoundException">Offline (or unreachable) and the snapshot is not cached.</exception>
    /// <exception cref="HubException">See <see cref="GetDatasetInfoAsync"/> and <see cref="DownloadFileAsync(string, RepoType, string, string, IProgress{HubProgress}?, CancellationToken)"/>.</exception>
    public async Task<HubSnapshot> DownloadSnapshotAsync(string repoId, RepoType repoType, string revision = RepoReference.DefaultRevision,
        IProgress<HubProgress>? progress = null, IEnumerable<string>? allowPatterns = null, IEnumerable<string>? ignorePatterns = null,
        CancellationToken cancellationToken = default)
    {
        HubCache.ValidateRepoId(repoId);
        HubCache.ValidateRevision(revision);
        if (Options.Offline) return CachedSnapshotOrThrow(repoId, repoType, revision, "offline mode (HF_HUB_OFFLINE)", null);

        string? sha;
        IReadOnlyList<RepoSibling> siblings;
        try
        {
            HubRepoInfo info = repoType == RepoType.Dataset
                ? await GetDatasetInfoAsync(repoId, revision, cancellationToken).ConfigureAwait(false)
                : await GetModelInfoAsync(repoId, revision, cancellationToken).ConfigureAwait(false);
            (sha, siblings) = (info.Sha, info.Siblings);
        }
        catch (HubException e) when (e.StatusCode is null && e.InnerException is HttpRequestException)
        {
            return CachedSnapshotOrThrow(repoId, repoType, revision, $"the hub at {Options.Endpoint} could not be reached", e);
        }
        if (sha is not { } commit || !RepoReference.IsCommitHash(commit))
            throw new HubException($"The hub's info for '{repoId}' at '{revision}' has no commit hash (sha).", repoId, revision);

        IReadOnlyList<Regex>? allow = allowPatterns?.Select(GlobPattern.Compile).ToList();
        IReadOnlyList<Regex>? ignore = ignorePatterns?.Select(GlobPattern.Compile).ToList();
        var files = siblings.Where(s => GlobPattern.Keep(s.RFilename, allow, ignore)).ToList();
        foreach (var file in files)
        {
            try { HubCache.ValidateFilename(file.RFilename); }
            catch (ArgumentException e)
            {
                // Never write outside the snapshot folder, whatever the server lists.
                throw new HubException($"The hub lists a file '{file.RFilename}' in '{repoId}' that is not a safe relative path; nothing was downloaded.",
                    repoId, revision, file.RFilename, inner: e);
            }
        }
        long? total = files.All(f => f.Size is not null) ? files.Sum(f => f.Size!.Value) : null;
        var tracker = new ProgressTracker(progress, total, files.Count);

        await Parallel.ForEachAsync(files,
            new ParallelOptions { MaxDegreeOfParallelism = Options.MaxParallelDownloads, CancellationToken = cancellationToken },
            async (file, ct) => await DownloadCoreAsync(repoId, repoType, file.RFilename, commit, tracker, ct).ConfigureAwait(false)).ConfigureAwait(false);

        Cache.WriteRef(repoId, revision, commit, repoType);
        string folder = Cache.SnapshotPath(repoId, commit, repoType);
        Directory.CreateDirectory(folder);
        return new HubSnapshot(repoId, repoType, revision, commit, folder);
    }

    /// <summary>
    /// A local model folder for <paramref name="pathOrRepo"/>: an existing directory as is, otherwise a repository
    /// reference (<c>org/name</c> or <c>org/name@revision</c>) downloaded with <see cref="SnapshotDownloadAsync"/>.
    /// </summary>
    /// <exception cref="DirectoryNotFoundException">
    /// No such folder, and the text is a path rather than a repository id (it starts with <c>.</c>, <c>/</c> or <c>~</c>,
    /// has more than one <c>/</c>, or its first part is an existing local folder, as in <c>runs/typo</c>).
    /// </exception>
    /// <exception cref="HubException">There is no local folder of that name and the download failed; see <see cref="SnapshotDownloadAsync"/>.</exception>
    public async Task<string> GetModelFolderAsync(string pathOrRepo, IProgress<HubProgress>? progress = null,
        IEnumerable<string>? allowPatterns = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(pathOrRepo);
        if (Directory.Exists(pathOrRepo)) return Path.GetFullPath(pathOrRepo);
        if (LooksLikeLocalPath(pathOrRepo) || !RepoReference.TryParse(pathOrRepo, out var reference))
            throw new DirectoryNotFoundException($"{pathOrRepo}: the model folder does not exist");
        return await SnapshotDownloadAsync(reference.RepoId, reference.Revision, progress, allowPatterns, null, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Whether <paramref name="text"/> reads as a file-system path rather than <c>org/name[@revision]</c>.</summary>
    static bool LooksLikeLocalPath(string text)
    {
        if (text.Length == 0 || text[0] is '.' or '/' or '~' || Path.IsPathRooted(text) || text.Count(c => c == '/') > 1 || text.Contains('\\'))
            return true;
        int slash = text.IndexOf('/');
        return slash > 0 && Directory.Exists(text[..slash]);
    }

    HubSnapshot CachedSnapshotOrThrow(string repoId, RepoType repoType, string revision, string why, Exception? inner)
    {
        if (Cache.ResolveCommit(repoId, revision, repoType) is { } commit && Cache.TryGetSnapshotFolder(repoId, commit, out string? folder, repoType))
            return new HubSnapshot(repoId, repoType, revision, commit, folder);
        throw new LocalEntryNotFoundException(
            $"Cannot download {Describe(repoId, repoType, revision, null)}: {why}, and no snapshot of it is in the cache at {Cache.CacheDir}.",
            repoId, revision, null, null, inner);
    }

    /// <summary>Frees the HTTP connections (an injected handler is left alone).</summary>
    public void Dispose() => http.Dispose();
}
