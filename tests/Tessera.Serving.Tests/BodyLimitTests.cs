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
        foreach (var (name, content) in new (string, HttpContent)[] { ("sized", new StringContent(json)), ("chunked", new ChunkedJson(json)) })
        {
            var (status, body) = await Send(h, "/v1/completions", content);
            Assert.True(status == HttpStatusCode.RequestEntityTooLarge, $"{name}: {status} {body?.ToJsonString()}");
            Assert.Equal("invalid_request_error", (string?)body!["error"]!["type"]);
            Assert.Contains("2000", (string?)body["error"]!["message"]);
        }
    }
}
