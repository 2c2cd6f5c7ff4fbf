using System.Collections.Concurrent;
using System.Net;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Tessera.LoadTest.Tests;

/// <summary>
/// A stand-in for `tessera serve` on 127.0.0.1 (a free port): OpenAI completions and chat, streamed or not, and KServe
/// v2 infer. It answers every <see cref="RejectEvery"/>-th request (counting from 1) with 429, writes each SSE event
/// in pieces with a flush between them (so the client sees lines split across reads, CRLF included), and counts what
/// it answered, so tests compare the load generator's counts with the server's own.
/// </summary>
sealed class FakeModelServer : IAsyncDisposable
{
    readonly WebApplication app;
    int requestNumber;

    public int RejectEvery { get; init; }
    public bool SendUsage { get; init; } = true;
    public bool UseCrLf { get; init; }
    /// <summary>Never answer: the request waits until the client gives up.</summary>
    public bool Hang { get; init; }
    /// <summary>End streams without <c>data: [DONE]</c>.</summary>
    public bool OmitDone { get; init; }

    public ConcurrentDictionary<int, int> StatusCounts { get; } = new();
    public ConcurrentQueue<JsonObject> Bodies { get; } = new();
    public Uri Url { get; private set; } = null!;

    public FakeModelServer()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseKestrel(k => k.Listen(IPAddress.Loopback, 0));
        app = builder.Build();
        app.MapPost("/v1/completions", context => Complete(context, chat: false));
        app.MapPost("/v1/chat/completions", context => Complete(context, chat: true));
        app.MapGet("/v2/models/{name}", (string name) => Results.Json(new
        {
            name,
            platform = "onnxruntime",
            inputs = new[] { new { name = "pixels", datatype = "FP32", shape = new long[] { -1, 1, 28, 28 } } },
            outputs = new[] { new { name = "logits", datatype = "FP32", shape = new long[] { -1, 10 } } },
        }));
        app.MapPost("/v2/models/{name}/infer", Infer);
    }

    public static async Task<FakeModelServer> StartAsync(Func<FakeModelServer>? configure = null)
    {
        var server = configure?.Invoke() ?? new FakeModelServer();
        await server.app.StartAsync(TestContext.Current.CancellationToken);
        string address = server.app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single();
        server.Url = new Uri(address);
        return server;
    }


    async Task<JsonObject?> Admit(HttpContext context)
    {
        int n = Interlocked.Increment(ref requestNumber);
        var body = await JsonNode.ParseAsync(context.Request.Body, cancellationToken: context.RequestAborted);
        Bodies.Enqueue((JsonObject)body!);
        if (Hang)
        {
            await Task.Delay(Timeout.Infinite, context.RequestAborted).ContinueWith(_ => { }, TaskScheduler.Default);
            return null;
        }
        if (RejectEvery > 0 && n % RejectEvery == 0)
        {
            StatusCounts.AddOrUpdate(429, 1, (_, c) => c + 1);
            context.Response.StatusCode = 429;
            context.Response.Headers.RetryAfter = "1";
            await context.Response.WriteAsJsonAsync(new { error = new { message = "queue full", type = "rate_limit_exceeded" } });
            return null;
        }
        StatusCounts.AddOrUpdate(200, 1, (_, c) => c + 1);
        return (JsonObject)body!;
    }

    async Task Complete(HttpContext context, bool chat)
    {
        if (await Admit(context) is not { } request) return;
        int maxTokens = request["max_tokens"]!.GetValue<int>();
        bool stream = request["stream"]?.GetValue<bool>() ?? false;
        bool usage = SendUsage && (request["stream_options"]?["include_usage"]?.GetValue<bool>() ?? false);
        string kind = chat ? "chat.completion" : "text_completion";
        if (!stream)
        {
            var choice = chat ? (object)new { index = 0, message = new { role = "assistant", content = string.Concat(Enumerable.Repeat(" tok", maxTokens)) }, finish_reason = "length" }
                : new { index = 0, text = string.Concat(Enumerable.Repeat(" tok", maxTokens)), finish_reason = "length" };
            await context.Response.WriteAsJsonAsync(new { id = "x", @object = kind, choices = new[] { choice },
                usage = SendUsage ? new { prompt_tokens = 3, completion_tokens = maxTokens, total_tokens = 3 + maxTokens } : null });
            return;
        }
        context.Response.ContentType = "text/event-stream";
        string kindChunk = kind + ".chunk";
        if (chat) await Event(context, new { id = "x", @object = kindChunk, choices = new[] { new { index = 0, delta = new { role = "assistant", content = "" }, finish_reason = (string?)null } } });
        await context.Response.WriteAsync(": keep-alive comment" + (UseCrLf ? "\r\n\r\n" : "\n\n"));
        for (int i = 0; i < maxTokens; i++)
        {
            object choice = chat ? new { index = 0, delta = new { content = $" t{i}é" }, finish_reason = (string?)null } : new { index = 0, text = $" t{i}é", finish_reason = (string?)null };
            await Event(context, new { id = "x", @object = kindChunk, choices = new[] { choice } });
        }
        object last = chat ? new { index = 0, delta = new { }, finish_reason = "length" } : new { index = 0, text = "", finish_reason = "length" };
        await Event(context, new { id = "x", @object = kindChunk, choices = new[] { last } });
        if (usage) await Event(context, new { id = "x", @object = kindChunk, choices = Array.Empty<object>(), usage = new { prompt_tokens = 3, completion_tokens = maxTokens, total_tokens = 3 + maxTokens } });
        if (!OmitDone) await Event(context, null);
    }

    /// <summary>Writes one event as "data: ...", then the line ends, in three flushed pieces: the first bytes, the rest of the line and its CR, the LF(s).</summary>
    async Task Event(HttpContext context, object? payload)
    {
        string nl = UseCrLf ? "\r\n" : "\n";
        byte[] bytes = Encoding.UTF8.GetBytes("data: " + (payload is null ? "[DONE]" : JsonSerializer.Serialize(payload)) + nl + nl);
        int cut1 = 3, cut2 = bytes.Length - (UseCrLf ? 3 : 1); // inside "data:", and between the CR and LF of the first line end
        foreach (var (from, to) in new[] { (0, cut1), (cut1, cut2), (cut2, bytes.Length) })
        {
            await context.Response.Body.WriteAsync(bytes.AsMemory(from, to - from), context.RequestAborted);
            await context.Response.Body.FlushAsync(context.RequestAborted);
        }
    }

    async Task Infer(HttpContext context, string name)
    {
        if (await Admit(context) is not { } request) return;
        var input = request["inputs"]![0]!;
        if (input["name"]!.GetValue<string>() != "pixels" || input["datatype"]!.GetValue<string>() != "FP32")
        {
            context.Response.StatusCode = 400;
            await context.Response.WriteAsJsonAsync(new { error = "bad input" });
            return;
        }
        long batch = input["shape"]![0]!.GetValue<long>();
        await context.Response.WriteAsJsonAsync(new
        {
            model_name = name,
            outputs = new[] { new { name = "logits", datatype = "FP32", shape = new[] { batch, 10L }, data = new float[batch * 10] } },
        });
    }

    public int Answered => StatusCounts.Values.Sum();

    public async ValueTask DisposeAsync()
    {
        await app.StopAsync(CancellationToken.None);
        await app.DisposeAsync();
    }
}
