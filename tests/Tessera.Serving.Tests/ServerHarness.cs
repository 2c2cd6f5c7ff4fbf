using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Tessera.Serving.Tests;

/// <summary>A started <see cref="TesseraServer"/> on 127.0.0.1 (free port) with an HTTP client pointed at it.</summary>
internal sealed class ServerHarness : IAsyncDisposable
{
    public TesseraServer Server { get; }
    public HttpClient Client { get; }

    ServerHarness(TesseraServer server)
    {
        Server = server;
        Client = new HttpClient { BaseAddress = server.Address, Timeout = TimeSpan.FromSeconds(60) };
    }

    public static async Task<ServerHarness> StartAsync(ServerOptions options, params ServedModel[] models)
    {
        var server = new TesseraServer(options with { Host = "127.0.0.1", Port = 0 }, models);
        await server.StartAsync();
        await server.WaitUntilReadyAsync();
        return new ServerHarness(server);
    }

    public Uri Url(string path) => new(Server.Address!, path);

    public Task<HttpResponseMessage> PostJson(string path, object body, string? key = null, CancellationToken cancel = default) =>
        PostRaw(path, JsonSerializer.Serialize(body), key, cancel);

    public Task<HttpResponseMessage> PostRaw(string path, string json, string? key = null, CancellationToken cancel = default)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = new StringContent(json, Encoding.UTF8, "application/json") };
        if (key is not null) request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
        return Client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancel);
    }

    public static async Task<JsonNode> Json(HttpResponseMessage response) => JsonNode.Parse(await response.Content.ReadAsStringAsync())!;

    /// <summary>The value of a Prometheus sample line (name with labels exactly as printed), or null.</summary>
    public async Task<double?> Metric(string sample)
    {
        string text = await Client.GetStringAsync("/metrics");
        foreach (string line in text.Split('\n'))
            if (line.StartsWith(sample + " ", StringComparison.Ordinal)) return double.Parse(line[(sample.Length + 1)..], System.Globalization.CultureInfo.InvariantCulture);
        return null;
    }

    public async ValueTask DisposeAsync()
    {
        Client.Dispose();
        await Server.DisposeAsync();
    }
}
