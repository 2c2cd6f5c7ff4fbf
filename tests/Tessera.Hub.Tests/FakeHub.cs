using System.Collections.Concurrent;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Tessera.Hub;

namespace Tessera.Hub.Tests;

/// <summary>
/// A Hugging Face Hub stand-in on 127.0.0.1 serving model and dataset repositories from memory with the hub's HTTP
/// conventions: model/dataset info JSON, <c>resolve/{revision}/{file}</c> with X-Repo-Commit and ETag headers, LFS files (at least
/// <see cref="LfsThreshold"/> bytes) redirected to a CDN path with X-Linked-Etag (their sha256), byte ranges,
/// X-Error-Code on errors, and gated repositories that need <see cref="GoodToken"/>. Faults are switched on per
/// file: a connection dropped halfway, corrupted bytes, a delay. Every request is recorded.
/// </summary>
internal sealed class FakeHub : IAsyncDisposable
{
    public const string GoodToken = "hf_fake_good_token";
    public const int LfsThreshold = 1024;

    /// <summary>One request as the server saw it.</summary>
    public sealed record Seen(string Method, string Path, string? Range, string? Authorization, int Port);

    sealed class Repo
    {
        public readonly Dictionary<string, string> Branches = [];
        public readonly Dictionary<string, Dictionary<string, byte[]>> Commits = [];
        public bool Gated;
    }

    readonly Dictionary<string, Repo> repos = [];
    readonly Lock gate = new();
    readonly WebApplication app;
    readonly WebApplication? cdnApp;
    int commitCounter;
    int inFlight;

    /// <summary>Every request, in arrival order.</summary>
    public ConcurrentQueue<Seen> Requests { get; } = new();

    /// <summary>Filename -> how many more GETs of it write half the bytes and then abort the connection.</summary>
    public ConcurrentDictionary<string, int> DropHalfway { get; } = new();

    /// <summary>Files whose bytes are served with one byte flipped (their ETag stays the true sha256).</summary>
    public ConcurrentDictionary<string, bool> Corrupt { get; } = new();

    /// <summary>Old repository id -> new one: resolve requests for the old id get a relative 307 to the new one, as the hub does after a rename.</summary>
    public ConcurrentDictionary<string, string> Renamed { get; } = new();

    /// <summary>When true, Range headers are ignored and the whole file is sent with 200, as some mirrors do.</summary>
    public bool IgnoreRange { get; set; }

    /// <summary>Files whose body (GET) is followed by this many extra bytes, sent without a Content-Length.</summary>
    public ConcurrentDictionary<string, long> Oversend { get; } = new();

    /// <summary>A pause before each file body, so parallel downloads overlap.</summary>
    public TimeSpan BodyDelay { get; set; }

    /// <summary>The most file bodies served at the same time.</summary>
    public int MaxInFlight { get; private set; }

    public Uri Url { get; private set; } = null!;

    /// <summary>Where LFS bytes are served: the hub itself, or a second server when started with a separate CDN.</summary>
    public Uri CdnUrl { get; private set; } = null!;

    FakeHub(bool separateCdn)
    {
        app = Build(HandleHubAsync);
        if (separateCdn) cdnApp = Build(HandleCdnAsync);
    }

    public static async Task<FakeHub> StartAsync(bool separateCdn = false)
    {
        var hub = new FakeHub(separateCdn);
        hub.Url = await StartAppAsync(hub.app);
        hub.CdnUrl = hub.cdnApp is null ? hub.Url : await StartAppAsync(hub.cdnApp);
        return hub;
    }

    static WebApplication Build(RequestDelegate handler)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseKestrel(o => o.Listen(IPAddress.Loopback, 0));
        var web = builder.Build();
        web.Run(handler);
        return web;
    }

    static async Task<Uri> StartAppAsync(WebApplication web)
    {
        await web.StartAsync();
        string address = web.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        return new Uri(address);
    }

    /// <summary>
    /// Makes a commit of <paramref name="files"/> on <paramref name="branch"/> (creating the repository) and returns its
    /// hash. A dataset repository (<paramref name="repoType"/>) is served under <c>/api/datasets/</c> and <c>/datasets/</c>.
    /// </summary>
    public string Commit(string repoId, IReadOnlyDictionary<string, byte[]> files, string branch = "main", bool gated = false, RepoType repoType = RepoType.Model)
    {
        lock (gate)
        {
            string key = Key(repoType, repoId);
            if (!repos.TryGetValue(key, out var repo)) repos[key] = repo = new Repo();
            repo.Gated |= gated;
            string commit = Convert.ToHexStringLower(SHA1.HashData(Encoding.UTF8.GetBytes($"{key}/{++commitCounter}")));
            repo.Commits[commit] = new Dictionary<string, byte[]>(files);
            repo.Branches[branch] = commit;
            return commit;
        }
    }

    /// <summary>A client for this hub caching under <paramref name="cacheDir"/>.</summary>
    public HubClient Client(string cacheDir, string? token = null, int maxRetries = 3, int parallel = 8, bool offline = false) =>
        new(new HubOptions
        {
            Endpoint = Url.ToString().TrimEnd('/'), CacheDir = cacheDir, Token = token, MaxRetries = maxRetries,
            MaxParallelDownloads = parallel, Offline = offline, RequestTimeout = TimeSpan.FromSeconds(10),
        });

    /// <summary>Models keep their bare id as the key (so old tests read the same); datasets are prefixed.</summary>
    static string Key(RepoType type, string repoId) => type == RepoType.Model ? repoId : $"{type.Plural()}/{repoId}";

    public static bool IsLfs(byte[] content) => content.Length >= LfsThreshold;

    public static string Sha256(byte[] content) => Convert.ToHexStringLower(SHA256.HashData(content));

    /// <summary>The id git gives a blob: sha1 of "blob {size}\0" and the bytes; the hub's ETag for non-LFS files.</summary>
    public static string GitBlobId(byte[] content) =>
        Convert.ToHexStringLower(SHA1.HashData([.. Encoding.ASCII.GetBytes($"blob {content.Length}\0"), .. content]));

    public static string ETagOf(byte[] content) => IsLfs(content) ? Sha256(content) : GitBlobId(content);

    /// <summary>Deterministic pseudo-random bytes.</summary>
    public static byte[] Bytes(int length, int seed)
    {
        var bytes = new byte[length];
        new Random(seed).NextBytes(bytes);
        return bytes;
    }

    void Record(HttpContext ctx) =>
        Requests.Enqueue(new Seen(ctx.Request.Method, ctx.Request.Path.Value ?? "", ctx.Request.Headers.Range.FirstOrDefault(),
            ctx.Request.Headers.Authorization.FirstOrDefault(), ctx.Connection.LocalPort));

    async Task HandleHubAsync(HttpContext ctx)
    {
        Record(ctx);
        string[] parts = (ctx.Request.Path.Value ?? "").Trim('/').Split('/').Select(Uri.UnescapeDataString).ToArray();
        if (parts is ["cdn", var sha]) { await ServeLfsAsync(ctx, sha); return; }
        if (parts is ["api", "models" or "datasets", var org, var name, "revision", var rev])
        {
            await ModelInfoAsync(ctx, $"{org}/{name}", rev, parts[1] == "datasets" ? RepoType.Dataset : RepoType.Model);
            return;
        }
        if (parts.Length >= 6 && parts[0] == "datasets" && parts[3] == "resolve")
        {
            await ResolveAsync(ctx, $"{parts[1]}/{parts[2]}", parts[4], string.Join('/', parts[5..]), RepoType.Dataset);
            return;
        }
        if (parts.Length >= 5 && parts[2] == "resolve" && Renamed.TryGetValue($"{parts[0]}/{parts[1]}", out string? newId))
        {
            ctx.Response.StatusCode = 307;
            ctx.Response.Headers.Location = $"/{newId}/{string.Join('/', (ctx.Request.Path.Value ?? "").Trim('/').Split('/')[2..])}";
            return;
        }
        if (parts.Length >= 5 && parts[2] == "resolve")
        {
            await ResolveAsync(ctx, $"{parts[0]}/{parts[1]}", parts[3], string.Join('/', parts[4..]));
            return;
        }
        ctx.Response.StatusCode = 404;
    }

    async Task HandleCdnAsync(HttpContext ctx)
    {
        Record(ctx);
        string[] parts = (ctx.Request.Path.Value ?? "").Trim('/').Split('/');
        if (parts is ["cdn", var sha]) await ServeLfsAsync(ctx, sha);
        else ctx.Response.StatusCode = 404;
    }

    /// <summary>Finds the repository and commit, or writes the hub's error answer and returns null.</summary>
    async Task<(string Commit, Dictionary<string, byte[]> Files)?> LookupAsync(HttpContext ctx, string repoId, string revision, RepoType repoType)
    {
        Repo? repo;
        string? commit = null;
        Dictionary<string, byte[]>? files = null;
        lock (gate)
        {
            repos.TryGetValue(Key(repoType, repoId), out repo);
            if (repo is not null)
            {
                commit = repo.Branches.GetValueOrDefault(revision) ?? (repo.Commits.ContainsKey(revision) ? revision : null);
                if (commit is not null) files = repo.Commits[commit];
            }
        }
        if (repo is null) { await ErrorAsync(ctx, 404, "RepoNotFound", "Repository not found"); return null; }
        if (repo.Gated && ctx.Request.Headers.Authorization.FirstOrDefault() != $"Bearer {GoodToken}")
        {
            await ErrorAsync(ctx, 401, "GatedRepo", $"Access to model {repoId} is restricted. You must be authenticated to access it.");
            return null;
        }
        if (commit is null || files is null) { await ErrorAsync(ctx, 404, "RevisionNotFound", $"Invalid rev id: {revision}"); return null; }
        return (commit, files);
    }

    static async Task ErrorAsync(HttpContext ctx, int status, string code, string message)
    {
        ctx.Response.StatusCode = status;
        ctx.Response.Headers["X-Error-Code"] = code;
        ctx.Response.Headers["X-Error-Message"] = message;
        if (!HttpMethods.IsHead(ctx.Request.Method))
            await ctx.Response.WriteAsJsonAsync(new Dictionary<string, string> { ["error"] = message });
    }

    async Task ModelInfoAsync(HttpContext ctx, string repoId, string revision, RepoType repoType)
    {
        if (await LookupAsync(ctx, repoId, revision, repoType) is not { } found) return;
        var siblings = found.Files.OrderBy(f => f.Key, StringComparer.Ordinal).Select(f => new Dictionary<string, object?>
        {
            ["rfilename"] = f.Key,
            ["size"] = f.Value.Length,
            ["blobId"] = GitBlobId(f.Value),
            ["lfs"] = IsLfs(f.Value) ? new Dictionary<string, object> { ["sha256"] = Sha256(f.Value), ["size"] = f.Value.Length, ["pointerSize"] = 134 } : null,
        });
        var info = new Dictionary<string, object?> { ["id"] = repoId, ["sha"] = found.Commit, ["private"] = false, ["siblings"] = siblings, ["tags"] = new[] { "test" } };
        ctx.Response.ContentType = "application/json";
        await ctx.Response.WriteAsync(JsonSerializer.Serialize(info));
    }

    async Task ResolveAsync(HttpContext ctx, string repoId, string revision, string filename, RepoType repoType = RepoType.Model)
    {
        if (await LookupAsync(ctx, repoId, revision, repoType) is not { } found) return;
        if (!found.Files.TryGetValue(filename, out var content))
        {
            await ErrorAsync(ctx, 404, "EntryNotFound", $"{filename} does not exist on \"{revision}\"");
            return;
        }
        ctx.Response.Headers["X-Repo-Commit"] = found.Commit;
        if (IsLfs(content))
        {
            string sha = Sha256(content);
            ctx.Response.StatusCode = 302;
            ctx.Response.Headers.ETag = $"\"{GitBlobId(Encoding.ASCII.GetBytes("pointer " + sha))}\"";
            ctx.Response.Headers["X-Linked-Etag"] = $"\"{sha}\"";
            ctx.Response.Headers["X-Linked-Size"] = content.Length.ToString();
            ctx.Response.Headers.Location = new Uri(CdnUrl, $"/cdn/{sha}?name={Uri.EscapeDataString(filename)}").ToString();
            return;
        }
        ctx.Response.Headers.ETag = $"\"{GitBlobId(content)}\"";
        await ServeBytesAsync(ctx, content, filename);
    }

    async Task ServeLfsAsync(HttpContext ctx, string sha)
    {
        string name = ctx.Request.Query["name"].FirstOrDefault() ?? "";
        byte[]? content;
        lock (gate)
            content = repos.Values.SelectMany(r => r.Commits.Values).SelectMany(f => f.Values).FirstOrDefault(c => IsLfs(c) && Sha256(c) == sha);
        if (content is null) { ctx.Response.StatusCode = 404; return; }
        ctx.Response.Headers.ETag = $"\"{sha}\"";
        await ServeBytesAsync(ctx, content, name);
    }

    /// <summary>Serves the bytes from an optional <c>Range: bytes=N-</c> on, with the faults switched on for <paramref name="filename"/>.</summary>
    async Task ServeBytesAsync(HttpContext ctx, byte[] content, string filename)
    {
        if (Corrupt.ContainsKey(filename))
        {
            content = (byte[])content.Clone();
            content[content.Length / 2] ^= 0xFF;
        }
        long from = 0;
        string? range = ctx.Request.Headers.Range.FirstOrDefault();
        if (!IgnoreRange && range is not null && range.StartsWith("bytes=", StringComparison.Ordinal) && range.EndsWith('-'))
        {
            from = long.Parse(range["bytes=".Length..^1]);
            if (from >= content.Length)
            {
                ctx.Response.StatusCode = 416;
                ctx.Response.Headers.ContentRange = $"bytes */{content.Length}";
                return;
            }
            ctx.Response.StatusCode = 206;
            ctx.Response.Headers.ContentRange = $"bytes {from}-{content.Length - 1}/{content.Length}";
        }
        ctx.Response.Headers.AcceptRanges = "bytes";
        bool oversend = Oversend.TryGetValue(filename, out long extra) && !HttpMethods.IsHead(ctx.Request.Method);
        if (!oversend) ctx.Response.ContentLength = content.Length - from;
        if (HttpMethods.IsHead(ctx.Request.Method)) return;
        if (oversend)
        {
            await ctx.Response.Body.WriteAsync(content.AsMemory((int)from));
            var chunk = new byte[1 << 20];
            try
            {
                for (long sent = 0; sent < extra; sent += chunk.Length) await ctx.Response.Body.WriteAsync(chunk, ctx.RequestAborted);
            }
            catch (Exception e) when (e is OperationCanceledException or IOException) { } // the client hung up: what it should do
            return;
        }

        int now = Interlocked.Increment(ref inFlight);
        lock (gate) MaxInFlight = Math.Max(MaxInFlight, now);
        try
        {
            if (BodyDelay > TimeSpan.Zero) await Task.Delay(BodyDelay);
            var body = content.AsMemory((int)from);
            if (DropHalfway.TryGetValue(filename, out int drops) && drops > 0 && DropHalfway.TryUpdate(filename, drops - 1, drops))
            {
                await ctx.Response.Body.WriteAsync(body[..(body.Length / 2)]);
                await ctx.Response.Body.FlushAsync();
                // Flushing hands the bytes to the transport; give the socket a moment to send them before the abort.
                await Task.Delay(100);
                ctx.Abort();
                return;
            }
            await ctx.Response.Body.WriteAsync(body);
        }
        finally { Interlocked.Decrement(ref inFlight); }
    }

    public async ValueTask DisposeAsync()
    {
        await app.StopAsync();
        await app.DisposeAsync();
        if (cdnApp is not null)
        {
            await cdnApp.StopAsync();
            await cdnApp.DisposeAsync();
        }
    }
}
