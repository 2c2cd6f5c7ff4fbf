using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;

namespace Tessera.LoadTest;

/// <summary>Sends one request of the configured kind and times it; knows the protocols, not the load pattern.</summary>
sealed class LoadClient : IDisposable
{
    readonly HttpClient http;
    readonly LoadTestOptions options;
    readonly Uri endpoint;
    byte[]? classifierBody;

    public LoadClient(LoadTestOptions options, int maxConnections)
    {
        this.options = options;
        var handler = new SocketsHttpHandler
        {
            MaxConnectionsPerServer = Math.Max(1, maxConnections),
            PooledConnectionIdleTimeout = TimeSpan.FromMinutes(2),
            ConnectTimeout = TimeSpan.FromSeconds(10),
            AutomaticDecompression = DecompressionMethods.None,
            UseCookies = false,
        };
        http = new HttpClient(handler) { Timeout = Timeout.InfiniteTimeSpan };
        endpoint = Endpoint(options);
    }

    public Uri EndpointUrl => endpoint;

    /// <summary>The mode's path appended to a base address; an address that already has a path is the endpoint itself.</summary>
    static Uri Endpoint(LoadTestOptions options)
    {
        if (options.Url.AbsolutePath is not ("/" or "")) return options.Url;
        string path = options.Mode switch
        {
            LoadTestMode.Completions => "/v1/completions",
            LoadTestMode.Chat => "/v1/chat/completions",
            _ => $"/v2/models/{Uri.EscapeDataString(options.Model ?? "model")}/infer",
        };
        return new Uri(options.Url, path);
    }

    /// <summary>For the classifier: asks the server for the input name unless given, and builds the one request body all requests share.</summary>
    public async Task PrepareAsync(CancellationToken cancellationToken)
    {
        if (options.Mode != LoadTestMode.Classifier) return;
        string name = options.InputName ?? await AskInputNameAsync(cancellationToken).ConfigureAwait(false) ?? "input";
        var random = new Random(options.Seed);
        long count = options.InputShape.Aggregate(1L, (a, b) => a * b);
        using var stream = new MemoryStream();
        using (var json = new Utf8JsonWriter(stream))
        {
            json.WriteStartObject();
            json.WriteStartArray("inputs");
            json.WriteStartObject();
            json.WriteString("name", name);
            json.WriteStartArray("shape");
            foreach (long d in options.InputShape) json.WriteNumberValue(d);
            json.WriteEndArray();
            json.WriteString("datatype", "FP32");
            json.WriteStartArray("data");
            for (long i = 0; i < count; i++) json.WriteNumberValue(MathF.Round(random.NextSingle(), 4));
            json.WriteEndArray();
            json.WriteEndObject();
            json.WriteEndArray();
            json.WriteEndObject();
        }
        classifierBody = stream.ToArray();
    }

    async Task<string?> AskInputNameAsync(CancellationToken cancellationToken)
    {
        // GET /v2/models/{name}: the model metadata lists the inputs; any failure leaves the default name.
        try
        {
            var metadata = new Uri(endpoint.AbsoluteUri.EndsWith("/infer", StringComparison.Ordinal) ? endpoint.AbsoluteUri[..^"/infer".Length] : endpoint.AbsoluteUri);
            using var request = new HttpRequestMessage(HttpMethod.Get, metadata);
            Authorize(request);
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(options.RequestTimeout);
            using var response = await http.SendAsync(request, timeout.Token).ConfigureAwait(false);
            if (!response.IsSuccessStatusCode) return null;
            using var doc = JsonDocument.Parse(await response.Content.ReadAsStreamAsync(timeout.Token).ConfigureAwait(false));
            return doc.RootElement.TryGetProperty("inputs", out var inputs) && inputs.ValueKind == JsonValueKind.Array && inputs.GetArrayLength() > 0
                && inputs[0].TryGetProperty("name", out var n) && n.ValueKind == JsonValueKind.String ? n.GetString() : null;
        }
        catch (Exception e) when (e is HttpRequestException or JsonException or OperationCanceledException && !cancellationToken.IsCancellationRequested)
        {
            return null;
        }
    }

    /// <summary>The <paramref name="index"/>-th request's body (prompts are used in turn).</summary>
    internal byte[] Body(long index)
    {
        if (options.Mode == LoadTestMode.Classifier) return classifierBody ?? throw new InvalidOperationException("PrepareAsync first");
        string prompt = options.Prompts[(int)(index % options.Prompts.Count)];
        using var stream = new MemoryStream();
        using (var json = new Utf8JsonWriter(stream))
        {
            json.WriteStartObject();
            if (options.Model is not null) json.WriteString("model", options.Model);
            if (options.Mode == LoadTestMode.Chat)
            {
                json.WriteStartArray("messages");
                json.WriteStartObject();
                json.WriteString("role", "user");
                json.WriteString("content", prompt);
                json.WriteEndObject();
                json.WriteEndArray();
            }
            else json.WriteString("prompt", prompt);
            json.WriteNumber("max_tokens", options.MaxTokens);
            if (options.Temperature is double t) json.WriteNumber("temperature", t);
            json.WriteBoolean("stream", options.Stream);
            if (options.Stream)
            {
                json.WriteStartObject("stream_options");
                json.WriteBoolean("include_usage", true);
                json.WriteEndObject();
            }
            json.WriteEndObject();
        }
        return stream.ToArray();
    }

    void Authorize(HttpRequestMessage request)
    {
        if (options.ApiKey is not null) request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", options.ApiKey);
    }

    /// <summary>Sends the <paramref name="index"/>-th request; never throws except for cancellation of <paramref name="cancellationToken"/>.</summary>
    public async Task<RequestResult> SendAsync(long index, long levelStart, CancellationToken cancellationToken)
    {
        byte[] body = Body(index);
        long start = Stopwatch.GetTimestamp();
        double startSeconds = Stopwatch.GetElapsedTime(levelStart, start).TotalSeconds;
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(options.RequestTimeout);
        var stream = options.Stream && options.Mode != LoadTestMode.Classifier;
        try
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, endpoint) { Content = new ByteArrayContent(body) };
            request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
            Authorize(request);
            using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, timeout.Token).ConfigureAwait(false);
            int status = (int)response.StatusCode;
            if (status != 200)
            {
                string text = await response.Content.ReadAsStringAsync(timeout.Token).ConfigureAwait(false); // drain, so the connection is reused
                return Failed(status.ToString(CultureInfo.InvariantCulture), Shorten(text));
            }
            return stream ? await ReadStreamAsync(response, start, startSeconds, timeout.Token).ConfigureAwait(false)
                : await ReadWholeAsync(response, start, startSeconds, timeout.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return Failed("timeout", $"no complete answer within {options.RequestTimeout.TotalSeconds:0.###} s");
        }
        catch (HttpRequestException e)
        {
            return Failed("connection_error", e.Message);
        }
        catch (Exception e) when (e is IOException or JsonException or InvalidDataException)
        {
            return Failed("bad_response", e.Message);
        }

        RequestResult Failed(string outcome, string detail) =>
            new(outcome, detail, startSeconds, Stopwatch.GetElapsedTime(start).TotalSeconds, null, [], 0);
    }

    async Task<RequestResult> ReadWholeAsync(HttpResponseMessage response, long start, double startSeconds, CancellationToken cancellationToken)
    {
        byte[] bytes = await response.Content.ReadAsByteArrayAsync(cancellationToken).ConfigureAwait(false);
        double e2e = Stopwatch.GetElapsedTime(start).TotalSeconds;
        using var doc = JsonDocument.Parse(bytes);
        var root = doc.RootElement;
        if (options.Mode == LoadTestMode.Classifier)
        {
            if (!root.TryGetProperty("outputs", out var outputs) || outputs.ValueKind != JsonValueKind.Array || outputs.GetArrayLength() == 0)
                return new("bad_response", "a v2 infer answer without \"outputs\"", startSeconds, e2e, null, [], 0);
            return new("200", null, startSeconds, e2e, null, [], 0);
        }
        if (!root.TryGetProperty("choices", out var choices) || choices.ValueKind != JsonValueKind.Array)
            return new("bad_response", "a completion without \"choices\"", startSeconds, e2e, null, [], 0);
        int tokens = CompletionTokens(root) ?? 0;
        return new("200", null, startSeconds, e2e, null, [], tokens);
    }

    async Task<RequestResult> ReadStreamAsync(HttpResponseMessage response, long start, double startSeconds, CancellationToken cancellationToken)
    {
        using var body = await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
        long? first = null, previous = null;
        var gaps = new List<double>(options.MaxTokens);
        int chunks = 0;
        int? usage = null;
        bool done = false;
        await foreach (var e in SseReader.ReadAsync(body, cancellationToken).ConfigureAwait(false))
        {
            if (e.Data == "[DONE]")
            {
                done = true;
                break;
            }
            using var doc = JsonDocument.Parse(e.Data);
            var root = doc.RootElement;
            if (root.TryGetProperty("error", out var error))
                return new("bad_response", "error event: " + Shorten(error.ToString()), startSeconds, Stopwatch.GetElapsedTime(start).TotalSeconds, null, [], 0);
            usage = CompletionTokens(root) ?? usage;
            if (!HasText(root)) continue;
            chunks++;
            first ??= e.Timestamp;
            if (previous is long p) gaps.Add(Stopwatch.GetElapsedTime(p, e.Timestamp).TotalSeconds);
            previous = e.Timestamp;
        }
        double e2e = Stopwatch.GetElapsedTime(start).TotalSeconds;
        if (!done) return new("bad_response", "the event stream ended without data: [DONE]", startSeconds, e2e, null, [], 0);
        double? ttft = first is long f ? Stopwatch.GetElapsedTime(start, f).TotalSeconds : null;
        return new("200", null, startSeconds, e2e, ttft, gaps, usage ?? chunks);
    }

    /// <summary>Whether a completion or chat chunk carries output text: <c>choices[i].text</c> or <c>choices[i].delta.content</c> non-empty.</summary>
    static bool HasText(JsonElement chunk)
    {
        if (!chunk.TryGetProperty("choices", out var choices) || choices.ValueKind != JsonValueKind.Array) return false;
        foreach (var choice in choices.EnumerateArray())
        {
            if (choice.TryGetProperty("text", out var text) && text.ValueKind == JsonValueKind.String && text.GetString()!.Length > 0) return true;
            if (choice.TryGetProperty("delta", out var delta) && delta.ValueKind == JsonValueKind.Object
                && delta.TryGetProperty("content", out var content) && content.ValueKind == JsonValueKind.String && content.GetString()!.Length > 0) return true;
        }
        return false;
    }

    static int? CompletionTokens(JsonElement root) =>
        root.TryGetProperty("usage", out var usage) && usage.ValueKind == JsonValueKind.Object
        && usage.TryGetProperty("completion_tokens", out var tokens) && tokens.TryGetInt32(out int n) ? n : null;

    static string Shorten(string text)
    {
        text = text.ReplaceLineEndings(" ").Trim();
        return text.Length <= 200 ? text : text[..200] + "...";
    }

    public void Dispose() => http.Dispose();
}
