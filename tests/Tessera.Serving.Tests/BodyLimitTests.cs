using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;

namespace Tessera.Serving.Tests;

/// <summary>Bodies over <see cref="ServerOptions.MaxBodyBytes"/> get 413 in the protocol's error shape, however they are sent.</summary>
[Collection(ServingCollection.Name)]
public class BodyLimitTests(ServingModels models)
{
    /// <summary>A body sent without Content-Length (chunked), so only reading it finds the size.</summary>
    sealed class ChunkedJson(string json) : HttpContent
    {
        readonly byte[] bytes = Encoding.UTF8.GetBytes(json);

        protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context)
        {
            for (int i = 0; i < bytes.Length; i += 1000) await stream.WriteAsync(bytes.AsMemory(i, Math.Min(1000, bytes.Length - i)));
        }

        protected override bool TryComputeLength(out long length)
        {
            length = 0;
            return false;
        }
    }

    static async Task<(HttpStatusCode Status, JsonNode? Body)> Send(ServerHarness h, string path, HttpContent content)
    {
        content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        using var response = await h.Client.PostAsync(path, content);
        string text = await response.Content.ReadAsStringAsync();
        return (response.StatusCode, text.Length == 0 ? null : JsonNode.Parse(text));
    }

    [Fact]
    public async Task Oversized_bodies_get_413_with_an_OpenAI_error_whether_sized_or_chunked()
    {
        await using var h = await ServerHarness.StartAsync(new ServerOptions { MaxBodyBytes = 2000 }, new ServedModel("lm", models.LanguageModel));
        string json = System.Text.Json.JsonSerializer.Serialize(new { model = "lm", prompt = new string('a', 5000), max_tokens = 1 });
        string huge = System.Text.Json.JsonSerializer.Serialize(new { model = "lm", prompt = new string('a', 200_000), max_tokens = 1 });
        // 2 MB is more than loopback's socket buffers hold: the client is still sending when the server answers.
        string larger = System.Text.Json.JsonSerializer.Serialize(new { model = "lm", prompt = new string('a', 2_000_000), max_tokens = 1 });
        foreach (var (name, content) in new (string, HttpContent)[]
        {
            ("sized", new StringContent(json)), ("chunked", new ChunkedJson(json)), ("100x sized", new StringContent(huge)),
            ("100x chunked", new ChunkedJson(huge)), ("1000x sized", new StringContent(larger)), ("1000x chunked", new ChunkedJson(larger)),
        })
        {
            var (status, body) = await Send(h, "/v1/completions", content);
            Assert.True(status == HttpStatusCode.RequestEntityTooLarge, $"{name}: {status} {body?.ToJsonString()}");
            Assert.Equal("invalid_request_error", (string?)body!["error"]!["type"]);
            Assert.Contains("2000", (string?)body["error"]!["message"]);
        }
        // The server closes a connection whose body it did not read, and says so (Connection: close), so a client
        // that pools connections never sends its next request into a closed one.
        for (int round = 0; round < 5; round++)
        {
            var (status, _) = await Send(h, "/v1/completions", new StringContent(huge));
            Assert.Equal(HttpStatusCode.RequestEntityTooLarge, status);
            using var next = await h.PostJson("/v1/completions", new { model = "lm", prompt = "hi", max_tokens = 1 });
            Assert.Equal(HttpStatusCode.OK, next.StatusCode);
        }
    }

    [Fact]
    public async Task Oversized_bodies_on_v2_get_413_with_a_KServe_error()
    {
        var (path, _, _) = models.Classifier();
        await using var h = await ServerHarness.StartAsync(new ServerOptions { MaxBodyBytes = 4096 }, new ServedModel("clf", path));
        string json = System.Text.Json.JsonSerializer.Serialize(new { inputs = new[] { new { name = "input", shape = new[] { 64, 1, 4, 4 }, datatype = "FP32", data = Enumerable.Repeat(0.123456789f, 1024) } } });
        foreach (var (name, content) in new (string, HttpContent)[] { ("sized", new StringContent(json)), ("chunked", new ChunkedJson(json)) })
        {
            var (status, body) = await Send(h, "/v2/models/clf/infer", content);
            Assert.True(status == HttpStatusCode.RequestEntityTooLarge, $"{name}: {status} {body?.ToJsonString()}");
            Assert.Contains("4096", (string?)body!["error"]);
            Assert.Null(body["error"] as JsonObject); // KServe's shape: {"error": "message"}
        }
    }
}
