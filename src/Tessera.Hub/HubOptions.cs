namespace Tessera.Hub;

/// <summary>
/// Where the hub lives, who we are and where files are cached. <see cref="FromEnvironment()"/> reads the same
/// environment variables as huggingface_hub (HF_ENDPOINT, HF_TOKEN, HF_HOME, HF_HUB_CACHE, HF_HUB_OFFLINE), so a
/// cache shared with Python tools just works.
/// </summary>
public sealed record HubOptions
{
    /// <summary>The public Hugging Face Hub.</summary>
    public const string DefaultEndpoint = "https://huggingface.co";

    /// <summary>Base URL of the hub or a mirror, without a trailing slash (HF_ENDPOINT).</summary>
    public string Endpoint { get; init; } = DefaultEndpoint;

    /// <summary>Access token sent as <c>Authorization: Bearer</c> to the hub (HF_TOKEN); null for anonymous access.</summary>
    public string? Token { get; init; }

    /// <summary>The cache folder holding <c>models--org--name</c> folders (HF_HUB_CACHE, else HF_HOME/hub).</summary>
    public string CacheDir { get; init; } = DefaultCacheDir(Environment.GetEnvironmentVariable);

    /// <summary>When true no request is made: files resolve from the cache or fail (HF_HUB_OFFLINE=1).</summary>
    public bool Offline { get; init; }

    /// <summary>How many files <see cref="HubClient.SnapshotDownloadAsync"/> downloads at once (default 8).</summary>
    public int MaxParallelDownloads { get; init; } = 8;

    /// <summary>How many times a download that broke off is resumed within one call (default 3).</summary>
    public int MaxRetries { get; init; } = 3;

    /// <summary>Time allowed for response headers, and for each read of a body to make progress (default 60 s).</summary>
    public TimeSpan RequestTimeout { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>
    /// The most bytes written for a file whose size the hub did not announce (default 64 GiB). A file whose size was
    /// announced is never written past that size: a server sending more is an error and the partial file is deleted.
    /// </summary>
    public long MaxUnannouncedFileBytes { get; init; } = 64L << 30;

    /// <summary>
    /// The handler requests go through; null for a default one. It must not follow redirects itself: the client
    /// follows them so it can read the hub's headers and keep the token away from other hosts. Not disposed by the client.
    /// </summary>
    public HttpMessageHandler? HttpMessageHandler { get; init; }

    /// <summary>Options from the process environment: the variables huggingface_hub reads.</summary>
    public static HubOptions FromEnvironment() => FromEnvironment(Environment.GetEnvironmentVariable);

    /// <summary>
    /// Options from <paramref name="getVariable"/> (a lookup of environment variables), so tests and hosts can pass
    /// their own. Reads HF_ENDPOINT, HF_TOKEN (else the token file HF_TOKEN_PATH or HF_HOME/token), HF_HUB_CACHE,
    /// HF_HOME, XDG_CACHE_HOME and HF_HUB_OFFLINE (1/true/yes/on).
    /// </summary>
    public static HubOptions FromEnvironment(Func<string, string?> getVariable)
    {
        ArgumentNullException.ThrowIfNull(getVariable);
        string? endpoint = NonEmpty(getVariable("HF_ENDPOINT"));
        return new HubOptions
        {
            Endpoint = (endpoint ?? DefaultEndpoint).TrimEnd('/'),
            Token = TokenFrom(getVariable),
            CacheDir = DefaultCacheDir(getVariable),
            Offline = IsTrue(getVariable("HF_HUB_OFFLINE")),
        };
    }

    static string? TokenFrom(Func<string, string?> getVariable)
    {
        string? token = NonEmpty(getVariable("HF_TOKEN")) ?? NonEmpty(getVariable("HUGGING_FACE_HUB_TOKEN"));
        if (token is not null) return token.Trim();
        string tokenPath = NonEmpty(getVariable("HF_TOKEN_PATH")) ?? Path.Combine(HfHome(getVariable), "token");
        try { return File.Exists(tokenPath) ? NonEmpty(File.ReadAllText(tokenPath).Trim()) : null; }
        catch (IOException) { return null; }
        catch (UnauthorizedAccessException) { return null; }
    }

    static string DefaultCacheDir(Func<string, string?> getVariable) =>
        NonEmpty(getVariable("HF_HUB_CACHE")) ?? NonEmpty(getVariable("HUGGINGFACE_HUB_CACHE"))
        ?? Path.Combine(HfHome(getVariable), "hub");

    static string HfHome(Func<string, string?> getVariable)
    {
        if (NonEmpty(getVariable("HF_HOME")) is { } home) return Expand(home);
        string cache = NonEmpty(getVariable("XDG_CACHE_HOME"))
            ?? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache");
        return Path.Combine(Expand(cache), "huggingface");
    }

    static string Expand(string path) =>
        path.StartsWith("~/", StringComparison.Ordinal)
            ? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), path[2..])
            : path;

    static bool IsTrue(string? value) =>
        value?.Trim().ToUpperInvariant() is "1" or "TRUE" or "YES" or "ON";

    static string? NonEmpty(string? value) => string.IsNullOrWhiteSpace(value) ? null : value;
}
