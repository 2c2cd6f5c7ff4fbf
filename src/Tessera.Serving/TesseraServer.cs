using System.Diagnostics;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Tessera.Serving;

/// <summary>
/// Tessera's model server on Kestrel. Text models (exported decoder folders) get the OpenAI-compatible API with
/// continuous batching: <c>POST /v1/completions</c>, <c>POST /v1/chat/completions</c>, <c>GET /v1/models</c>. ONNX
/// models get KServe v2: <c>/v2/health/live</c>, <c>/v2/health/ready</c>, <c>/v2/models/{name}</c>,
/// <c>/v2/models/{name}/ready</c>, <c>POST /v2/models/{name}/infer</c> with dynamic batching. <c>GET /metrics</c> serves
/// Prometheus text. The server listens before the models are loaded (503 until then); on shutdown it stops accepting,
/// lets running requests finish (up to <see cref="ServerOptions.DrainTimeout"/>), then frees the models.
/// </summary>
/// <example><code>
/// await using var server = new TesseraServer(new ServerOptions { Port = 8080 }, [new ServedModel("lm", "runs/lm/onnx")]);
/// await server.RunAsync(); // until SIGTERM / Ctrl+C
/// </code></example>
public sealed class TesseraServer : IAsyncDisposable
{
    readonly ServerOptions options;
    readonly ModelRegistry registry;
    readonly WebApplication app;
    readonly byte[]? keyHash;
    Task loading = Task.CompletedTask;
    volatile bool draining;
    bool disposed;

    /// <summary>Prepares a server for <paramref name="models"/> (nothing is loaded or bound yet).</summary>
    /// <exception cref="ArgumentException">A setting is out of range, a model path does not exist, or two models share a name.</exception>
    public TesseraServer(ServerOptions options, IEnumerable<ServedModel> models)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(models);
        options.Validate();
        this.options = options;
        registry = new ModelRegistry(options, Metrics);
        registry.Add(models);
        if (registry.Entries.Count == 0) throw new ArgumentException("no model to serve");
        if (options.ApiKey is string key) keyHash = SHA256.HashData(Encoding.UTF8.GetBytes(key));
        if (!IPAddress.TryParse(options.Host == "localhost" ? "127.0.0.1" : options.Host, out var address))
            throw new ArgumentException($"host must be an IP address such as 127.0.0.1 or 0.0.0.0 (got {options.Host})");

        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = [] });
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k =>
        {
            k.Listen(address, options.Port);
            k.Limits.MaxRequestBodySize = options.MaxBodyBytes;
            k.AddServerHeader = false;
        });
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = options.DrainTimeout);
        app = builder.Build();
        app.Lifetime.ApplicationStopping.Register(() => draining = true);
        app.Use(Pipeline);
        var openAi = new OpenAiApi(registry, options);
        var kserve = new KServeApi(registry, Metrics);
        app.MapGet("/v1/models", openAi.Models);
        app.MapPost("/v1/completions", openAi.Completions);
        app.MapPost("/v1/chat/completions", openAi.ChatCompletions);
        app.MapGet("/v2/health/live", kserve.Live);
        app.MapGet("/v2/health/ready", kserve.Ready);
        app.MapGet("/v2/models/{name}", (HttpContext c, string name) => kserve.Metadata(c, name));
        app.MapGet("/v2/models/{name}/ready", (HttpContext c, string name) => kserve.ModelReady(c, name));
        app.MapPost("/v2/models/{name}/infer", (HttpContext c, string name) => kserve.Infer(c, name));
        app.MapGet("/metrics", (HttpContext c) =>
        {
            c.Response.ContentType = "text/plain; version=0.0.4; charset=utf-8";
            return c.Response.WriteAsync(Metrics.Render());
        });
    }

    /// <summary>The server's metrics (what <c>/metrics</c> serves).</summary>
    public ServingMetrics Metrics { get; } = new();

    /// <summary>The address the server listens on (the real port when <see cref="ServerOptions.Port"/> is 0); null before <see cref="StartAsync"/>.</summary>
    public Uri? Address { get; private set; }

    /// <summary>Binds the port and starts loading the models in the background (requests for them get 503 until loaded).</summary>
    public async Task StartAsync(CancellationToken cancellationToken = default)
    {
        await app.StartAsync(cancellationToken).ConfigureAwait(false);
        string address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        Address = new Uri(address);
        loading = Task.Run(registry.LoadAll, CancellationToken.None);
    }

    /// <summary>Waits until every model is loaded.</summary>
    /// <exception cref="AggregateException">A model failed to load; the inner exceptions say which and why.</exception>
    public async Task WaitUntilReadyAsync()
    {
        await loading.ConfigureAwait(false);
        var failures = registry.Entries.Where(e => e.Failure is not null).Select(e => new InvalidOperationException($"model {e.Name} ({e.Path}): {e.Failure!.Message}", e.Failure)).ToList();
        if (failures.Count > 0) throw new AggregateException("a model failed to load", failures);
    }

    /// <summary>Stops accepting connections, lets running requests finish (up to the drain timeout), then stops.</summary>
    public async Task StopAsync()
    {
        draining = true;
        await app.StopAsync(CancellationToken.None).ConfigureAwait(false);
    }

    /// <summary>Starts, waits for the models, then serves until the application is told to stop (SIGTERM, Ctrl+C), and drains.</summary>
    /// <param name="ready">Called once the models are loaded, with the address.</param>
    public async Task RunAsync(Action<Uri>? ready = null)
    {
        await StartAsync().ConfigureAwait(false);
        try
        {
            await WaitUntilReadyAsync().ConfigureAwait(false);
        }
        catch
        {
            await StopAsync().ConfigureAwait(false);
            throw;
        }
        ready?.Invoke(Address!);
        await app.WaitForShutdownAsync().ConfigureAwait(false);
    }

    async Task Pipeline(HttpContext context, RequestDelegate next)
    {
        long started = Stopwatch.GetTimestamp();
        string path = context.Request.Path.Value ?? "";
        bool kserve = path.StartsWith("/v2/", StringComparison.Ordinal);
        Stream? rawBody = null;
        try
        {
            if (draining && !path.StartsWith("/v2/health", StringComparison.Ordinal) && path != "/metrics")
            {
                context.Response.Headers.Connection = "close";
                throw new ApiError(503, "the server is shutting down", "service_unavailable");
            }
            if (keyHash is not null && (path.StartsWith("/v1/", StringComparison.Ordinal) || path.StartsWith("/v2/models", StringComparison.Ordinal)) && !Authorized(context))
                throw new ApiError(401, "Incorrect or missing API key: send Authorization: Bearer <key>", "invalid_request_error", code: "invalid_api_key");
            rawBody = HttpBodies.TakeOverLimit(context, options.MaxBodyBytes);
            if (context.Request.ContentLength is long length && length > options.MaxBodyBytes)
                throw new ApiError(413, $"the request body has {length} bytes; this server's limit is {options.MaxBodyBytes} bytes (--max-body-bytes)");
            await next(context).ConfigureAwait(false);
        }
        catch (ApiError e)
        {
            RequestLog.Info(context).Error = e.Message;
            if (!context.Response.HasStarted)
            {
                if (e.RetryAfterSeconds is int retry) context.Response.Headers.RetryAfter = retry.ToString(System.Globalization.CultureInfo.InvariantCulture);
                if (e.Status == 401) context.Response.Headers.WWWAuthenticate = "Bearer";
                // Read a moderate rest of an oversized body before answering, then close: the client is still
                // sending, and a close with unread bytes resets the connection under the 413.
                if (e.Status == 413)
                {
                    if (rawBody is not null) await HttpBodies.DrainAsync(rawBody, options.MaxBodyBytes, context.RequestAborted).ConfigureAwait(false);
                    context.Response.Headers.Connection = "close";
                }
                await OpenAiApi.WriteJson(context, e.Status, kserve ? KServeApi.ErrorBody(e.Message) : OpenAiApi.ErrorBody(e)).ConfigureAwait(false);
                if (e.Status == 413) await context.Response.CompleteAsync().ConfigureAwait(false);
            }
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            RequestLog.Info(context).Error = e.Message;
            if (!context.Response.HasStarted)
            {
                // A request the library refused (bad settings, a failing model run) is reported, not hidden.
                var status = e is ArgumentException ? 400 : 500;
                var error = new ApiError(status, e.Message, status == 400 ? "invalid_request_error" : "server_error");
                await OpenAiApi.WriteJson(context, status, kserve ? KServeApi.ErrorBody(e.Message) : OpenAiApi.ErrorBody(error)).ConfigureAwait(false);
            }
            else context.Abort();
        }
        finally
        {
            if (options.RequestLog is TextWriter log)
            {
                string line = RequestLog.Line(context, started);
                lock (log) log.WriteLine(line);
            }
        }
    }

    bool Authorized(HttpContext context)
    {
        string header = context.Request.Headers.Authorization.ToString();
        if (!header.StartsWith("Bearer ", StringComparison.Ordinal)) return false;
        // Hashes have one length, so the comparison's time says nothing about the key's length or content.
        byte[] given = SHA256.HashData(Encoding.UTF8.GetBytes(header["Bearer ".Length..].Trim()));
        return CryptographicOperations.FixedTimeEquals(given, keyHash);
    }

    /// <summary>Stops the server (draining) if it runs, stops the schedulers and frees the models.</summary>
    public async ValueTask DisposeAsync()
    {
        if (disposed) return;
        disposed = true;
        try
        {
            await app.StopAsync(CancellationToken.None).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }
        await loading.ConfigureAwait(false);
        registry.Dispose();
        await app.DisposeAsync().ConfigureAwait(false);
    }
}
