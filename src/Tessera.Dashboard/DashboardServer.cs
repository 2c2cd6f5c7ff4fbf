using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Tessera.Tracking.Runs;

namespace Tessera.Dashboard;

/// <summary>
/// The runs dashboard on Kestrel: a page (HTML, CSS and JavaScript embedded in this assembly; nothing is fetched from
/// the internet) with the runs table, run pages with metric charts, the model card and sample images, a compare view
/// and live updates of running runs, over a read-only JSON API on the runs store (<c>/api/...</c>, see
/// <see cref="DashboardApi"/>). Only GET requests are served; nothing in the store is changed through it.
/// </summary>
/// <example>
/// <code>
/// await using var dashboard = new DashboardServer(new DashboardOptions { Port = 5000 }, "tessera-runs/runs.db");
/// await dashboard.RunAsync(address => Console.WriteLine($"dashboard on {address}"));
/// </code>
/// </example>
public sealed class DashboardServer : IAsyncDisposable
{
    readonly WebApplication app;
    readonly RunStore store;
    bool disposed;

    /// <summary>Prepares a dashboard over the runs store at <paramref name="storePath"/> (opened now; nothing is bound yet).</summary>
    /// <exception cref="ArgumentException">A setting is out of range or the host is not an IP address.</exception>
    /// <exception cref="FileNotFoundException">There is no runs store at <paramref name="storePath"/>.</exception>
    /// <exception cref="TrackingException">The file is not a runs store.</exception>
    public DashboardServer(DashboardOptions options, string storePath)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentException.ThrowIfNullOrEmpty(storePath);
        options.Validate();
        Options = options;
        if (!IPAddress.TryParse(options.Host == "localhost" ? "127.0.0.1" : options.Host, out var address))
            throw new ArgumentException($"host must be an IP address such as 127.0.0.1 or 0.0.0.0 (got {options.Host})");
        string full = Path.GetFullPath(storePath);
        if (!File.Exists(full)) throw new FileNotFoundException($"no runs store at {full}: run a tracked command (tessera train ...) first, or name the store with --tracking-uri", full);
        store = RunStore.Open(full);

        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = [] });
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k =>
        {
            k.Listen(address, options.Port);
            k.AddServerHeader = false;
        });
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = TimeSpan.FromSeconds(5));
        app = builder.Build();
        app.Use(Headers);
        new DashboardApi(store, options).Map(app);
        StaticAssets.Map(app);
    }

    /// <summary>The options the dashboard runs with.</summary>
    public DashboardOptions Options { get; }

    /// <summary>The runs store file shown.</summary>
    public string StorePath => store.Path;

    /// <summary>The address the dashboard listens on (the real port when <see cref="DashboardOptions.Port"/> is 0); null before <see cref="StartAsync"/>.</summary>
    public Uri? Address { get; private set; }

    /// <summary>Binds the port and starts serving.</summary>
    public async Task StartAsync(CancellationToken cancellationToken = default)
    {
        await app.StartAsync(cancellationToken).ConfigureAwait(false);
        Address = new Uri(app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First());
    }

    /// <summary>Stops serving.</summary>
    public Task StopAsync() => app.StopAsync(CancellationToken.None);

    /// <summary>Starts, then serves until the application is told to stop (Ctrl+C, SIGTERM) or <paramref name="cancellationToken"/> fires.</summary>
    /// <param name="ready">Called once the port is bound, with the address.</param>
    /// <param name="cancellationToken">Stops the dashboard.</param>
    public async Task RunAsync(Action<Uri>? ready = null, CancellationToken cancellationToken = default)
    {
        await StartAsync(cancellationToken).ConfigureAwait(false);
        ready?.Invoke(Address!);
        using (cancellationToken.Register(() => app.Lifetime.StopApplication()))
            await app.WaitForShutdownAsync(CancellationToken.None).ConfigureAwait(false);
    }

    // Read-only, and a page that may only load from this server.
    static Task Headers(HttpContext context, RequestDelegate next)
    {
        var headers = context.Response.Headers;
        headers.ContentSecurityPolicy = "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'";
        headers.XContentTypeOptions = "nosniff";
        headers["Referrer-Policy"] = "no-referrer";
        if (!HttpMethods.IsGet(context.Request.Method) && !HttpMethods.IsHead(context.Request.Method))
        {
            context.Response.StatusCode = StatusCodes.Status405MethodNotAllowed;
            headers.Allow = "GET, HEAD";
            return context.Response.WriteAsJsonAsync(new { error = "the dashboard is read-only: only GET requests" });
        }
        return next(context);
    }

    /// <summary>Stops the dashboard if it runs and closes the store.</summary>
    public async ValueTask DisposeAsync()
    {
        if (disposed) return;
        disposed = true;
        await app.DisposeAsync().ConfigureAwait(false);
        store.Dispose();
    }
}
