using System.Buffers;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Tessera.Text.Generation;

namespace Tessera.Serving;

/// <summary>
/// The OpenAI-compatible endpoints: <c>POST /v1/completions</c>, <c>POST /v1/chat/completions</c> (whole responses or
/// server-sent events) and <c>GET /v1/models</c>, in OpenAI's shapes, errors included.
/// </summary>
internal sealed class OpenAiApi(ModelRegistry registry, ServerOptions options)
{
    static readonly byte[] Done = "data: [DONE]\n\n"u8.ToArray();

    public Task Models(HttpContext context)
    {
        var body = Json(w =>
        {
            w.WriteStartObject();
            w.WriteString("object", "list");
            w.WriteStartArray("data");
            foreach (var entry in registry.Entries.Where(e => e.Kind == ModelKind.Text))
            {
                w.WriteStartObject();
                w.WriteString("id", entry.Name);
                w.WriteString("object", "model");
                w.WriteNumber("created", entry.Created);
                w.WriteString("owned_by", "tessera");
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteEndObject();
        });
        return WriteJson(context, 200, body);
    }

    public Task Completions(HttpContext context) => Generate(context, chat: false);

    public Task ChatCompletions(HttpContext context) => Generate(context, chat: true);

    async Task Generate(HttpContext context, bool chat)
    {
        using JsonDocument document = await HttpBodies.ReadJsonAsync(context).ConfigureAwait(false);
        JsonElement root = document.RootElement;
        if (root.ValueKind != JsonValueKind.Object) throw ApiError.BadRequest("the body must be a JSON object");
        string modelName = OptionalString(root, "model") ?? throw ApiError.BadRequest("you must provide a model parameter", "model");
        TextModel model = registry.Text(modelName);
        var log = RequestLog.Info(context);
        log.Model = modelName;
        // A full queue answers 429 before the prompt is rendered and tokenized: under a flood that work is most of a
        // rejected request's cost. TryEnqueue below stays the check that counts.
        if (model.Scheduler.Waiting >= options.MaxQueue) throw QueueFull(modelName);

        ToolRequest tools = chat ? Tools(root) : ToolRequest.NoTools;
        IReadOnlyList<int> ids = chat ? model.EncodeChat(Messages(root), tools.Render ? tools.Tools : null) : Prompt(root, model);
        int? context_ = model.Decoder.MaxPositions;
        if (context_ is int c && ids.Count >= c)
            throw ApiError.BadRequest($"This model's maximum context length is {c} tokens. However, your prompt has {ids.Count} tokens, which leaves no room for the completion.", chat ? "messages" : "prompt");
        int? requested = OptionalInt(root, "max_tokens") ?? (chat ? OptionalInt(root, "max_completion_tokens") : null);
        if (requested is int r)
        {
            if (r < 1) throw ApiError.BadRequest($"max_tokens must be at least 1 (got {r})", "max_tokens");
            if (r > options.MaxTokensCap) throw ApiError.BadRequest($"max_tokens is {r}; this server allows at most {options.MaxTokensCap} (--max-tokens-cap)", "max_tokens");
            if (context_ is int cc && ids.Count + r > cc)
                throw ApiError.BadRequest($"This model's maximum context length is {cc} tokens. However, you requested {ids.Count + r} tokens ({ids.Count} in the {(chat ? "messages" : "prompt")}, {r} in the completion). Please reduce the length of the {(chat ? "messages" : "prompt")} or completion.", "max_tokens");
        }
        int maxTokens = requested ?? (chat ? Math.Min(options.MaxTokensCap, (context_ ?? int.MaxValue) - ids.Count) : Math.Min(16, (context_ ?? int.MaxValue) - ids.Count));
        if (OptionalInt(root, "n") is int n && n != 1) throw ApiError.BadRequest($"n must be 1 (got {n}): one choice per request", "n");

        var request = new GenerationRequest
        {
            PromptIds = ids,
            MaxNewTokens = maxTokens,
            Sampling = Sampling(root),
            Stop = Stops(root),
            Cancel = context.RequestAborted,
        };
        bool stream = root.TryGetProperty("stream", out var s) && s.ValueKind == JsonValueKind.True;
        bool includeUsage = stream && root.TryGetProperty("stream_options", out var so) && so.ValueKind == JsonValueKind.Object
            && so.TryGetProperty("include_usage", out var iu) && iu.ValueKind == JsonValueKind.True;
        if (!model.Scheduler.TryEnqueue(request)) throw QueueFull(modelName);
        log.Request = request;

        string id = (chat ? "chatcmpl-" : "cmpl-") + Guid.NewGuid().ToString("N");
        long created = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        var reader = request.Events.Reader;
        if (!stream)
        {
            var text = new StringBuilder();
            string? finish = null;
            await foreach (var e in reader.ReadAllAsync(CancellationToken.None).ConfigureAwait(false))
            {
                if (e.Error is not null) throw e.Error;
                text.Append(e.Text);
                finish = e.FinishReason ?? finish;
            }
            if (finish == "abort") return; // the client went away
            var reply = ChatReply.From(text.ToString(), finish, tools.Parse ? options.ToolCallFormat : ToolCallFormat.None);
            await WriteJson(context, 200, Json(w =>
            {
                Header(w, id, chat ? "chat.completion" : "text_completion", created, modelName);
                w.WriteStartArray("choices");
                w.WriteStartObject();
                w.WriteNumber("index", 0);
                if (chat) reply.WriteMessage(w);
                else w.WriteString("text", text.ToString());
                w.WriteNull("logprobs");
                w.WriteString("finish_reason", chat ? reply.FinishReason : finish);
                w.WriteEndObject();
                w.WriteEndArray();
                Usage(w, request);
                w.WriteEndObject();
            })).ConfigureAwait(false);
            return;
        }

        context.Response.StatusCode = 200;
        context.Response.ContentType = "text/event-stream";
        context.Response.Headers.CacheControl = "no-cache";
        context.Response.Headers["X-Accel-Buffering"] = "no";
        var body = context.Response.Body;
        try
        {
            await context.Response.StartAsync(context.RequestAborted).ConfigureAwait(false);
            if (chat) await Event(body, Chunk(id, created, modelName, chat, includeUsage, "", null, role: true), context.RequestAborted).ConfigureAwait(false);
            bool parsing = chat && tools.Parse && options.ToolCallFormat != ToolCallFormat.None;
            var parser = new ToolCallParser(parsing ? options.ToolCallFormat : ToolCallFormat.None);
            async Task Pieces(List<ToolCallPiece> pieces)
            {
                foreach (var piece in pieces)
                {
                    byte[] chunk = piece.Call is { } call
                        ? ToolCallChunk(id, created, modelName, includeUsage, call, piece.Index)
                        : Chunk(id, created, modelName, chat, includeUsage, piece.Content, null, role: false);
                    await Event(body, chunk, context.RequestAborted).ConfigureAwait(false);
                }
            }
            await foreach (var e in reader.ReadAllAsync(context.RequestAborted).ConfigureAwait(false))
            {
                if (e.Error is not null) throw e.Error;
                if (e.FinishReason == "abort") return;
                if (!parsing)
                {
                    // One chunk per generated token, as before tools existed (the load generator times every chunk).
                    if (e.FinishReason is null || e.Text.Length > 0)
                        await Event(body, Chunk(id, created, modelName, chat, includeUsage, e.Text, null, role: false), context.RequestAborted).ConfigureAwait(false);
                    if (e.FinishReason is not null)
                        await Event(body, Chunk(id, created, modelName, chat, includeUsage, chat ? null : "", e.FinishReason, role: false), context.RequestAborted).ConfigureAwait(false);
                    continue;
                }
                if (e.Text.Length > 0) await Pieces(parser.Feed(e.Text)).ConfigureAwait(false);
                if (e.FinishReason is null) continue;
                await Pieces(parser.Finish()).ConfigureAwait(false);
                string finish = parser.Calls > 0 ? "tool_calls" : e.FinishReason;
                await Event(body, Chunk(id, created, modelName, chat, includeUsage, chat ? null : "", finish, role: false), context.RequestAborted).ConfigureAwait(false);
            }
            if (includeUsage)
            {
                await Event(body, Json(w =>
                {
                    Header(w, id, chat ? "chat.completion.chunk" : "text_completion", created, modelName);
                    w.WriteStartArray("choices");
                    w.WriteEndArray();
                    Usage(w, request);
                    w.WriteEndObject();
                }), context.RequestAborted).ConfigureAwait(false);
            }
            await body.WriteAsync(Done, context.RequestAborted).ConfigureAwait(false);
            await body.FlushAsync(context.RequestAborted).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (context.RequestAborted.IsCancellationRequested)
        {
            // The client went away; the scheduler drops the sequence at its next step.
        }
        catch (IOException)
        {
        }
    }

    ApiError QueueFull(string modelName) =>
        new(429, $"model {modelName} has {options.MaxQueue} requests waiting (--max-queue {options.MaxQueue}); retry later", "rate_limit_error", code: "rate_limit_exceeded") { RetryAfterSeconds = 1 };

    static async Task Event(Stream body, byte[] json, CancellationToken cancel)
    {
        await body.WriteAsync("data: "u8.ToArray(), cancel).ConfigureAwait(false);
        await body.WriteAsync(json, cancel).ConfigureAwait(false);
        await body.WriteAsync("\n\n"u8.ToArray(), cancel).ConfigureAwait(false);
        await body.FlushAsync(cancel).ConfigureAwait(false);
    }

    static byte[] Chunk(string id, long created, string model, bool chat, bool includeUsage, string? text, string? finish, bool role) => Json(w =>
    {
        Header(w, id, chat ? "chat.completion.chunk" : "text_completion", created, model);
        w.WriteStartArray("choices");
        w.WriteStartObject();
        w.WriteNumber("index", 0);
        if (chat)
        {
            w.WriteStartObject("delta");
            if (role) w.WriteString("role", "assistant");
            if (text is not null) w.WriteString("content", text);
            w.WriteEndObject();
        }
        else w.WriteString("text", text ?? "");
        w.WriteNull("logprobs");
        if (finish is null) w.WriteNull("finish_reason");
        else w.WriteString("finish_reason", finish);
        w.WriteEndObject();
        w.WriteEndArray();
        if (includeUsage) w.WriteNull("usage");
        w.WriteEndObject();
    });

    static byte[] ToolCallChunk(string id, long created, string model, bool includeUsage, ToolCall call, int index) => Json(w =>
    {
        Header(w, id, "chat.completion.chunk", created, model);
        w.WriteStartArray("choices");
        w.WriteStartObject();
        w.WriteNumber("index", 0);
        w.WriteStartObject("delta");
        w.WriteStartArray("tool_calls");
        ChatReply.WriteCall(w, call, index);
        w.WriteEndArray();
        w.WriteEndObject();
        w.WriteNull("logprobs");
        w.WriteNull("finish_reason");
        w.WriteEndObject();
        w.WriteEndArray();
        if (includeUsage) w.WriteNull("usage");
        w.WriteEndObject();
    });

    static void Header(Utf8JsonWriter w, string id, string type, long created, string model)
    {
        w.WriteStartObject();
        w.WriteString("id", id);
        w.WriteString("object", type);
        w.WriteNumber("created", created);
        w.WriteString("model", model);
    }

    static void Usage(Utf8JsonWriter w, GenerationRequest request)
    {
        w.WriteStartObject("usage");
        w.WriteNumber("prompt_tokens", request.PromptIds.Count);
        w.WriteNumber("completion_tokens", request.GeneratedTokens);
        w.WriteNumber("total_tokens", request.PromptIds.Count + request.GeneratedTokens);
        w.WriteEndObject();
    }

    static IReadOnlyList<int> Prompt(JsonElement root, TextModel model)
    {
        if (!root.TryGetProperty("prompt", out var p)) throw ApiError.BadRequest("you must provide a prompt", "prompt");
        if (p.ValueKind == JsonValueKind.String) return model.Encode(p.GetString()!);
        if (p.ValueKind == JsonValueKind.Array)
        {
            var items = p.EnumerateArray().ToList();
            if (items.Count == 1 && items[0].ValueKind == JsonValueKind.String) return model.Encode(items[0].GetString()!);
            if (items.Count > 0 && items.All(i => i.ValueKind == JsonValueKind.Number && i.TryGetInt32(out int v) && v >= 0 && v < model.Decoder.VocabSize))
                return [.. items.Select(i => i.GetInt32())];
            throw ApiError.BadRequest($"prompt must be a string, an array of one string, or an array of token ids in [0, {model.Decoder.VocabSize}); one prompt per request", "prompt");
        }
        throw ApiError.BadRequest("prompt must be a string", "prompt");
    }

    /// <summary>The messages as the chat template sees them: role, content (text parts joined) and the message's other fields.</summary>
    static List<IReadOnlyDictionary<string, object?>> Messages(JsonElement root)
    {
        if (!root.TryGetProperty("messages", out var m) || m.ValueKind != JsonValueKind.Array || m.GetArrayLength() == 0)
            throw ApiError.BadRequest("messages must be a non-empty array", "messages");
        var result = new List<IReadOnlyDictionary<string, object?>>();
        foreach (var message in m.EnumerateArray())
        {
            string role = message.ValueKind == JsonValueKind.Object ? OptionalString(message, "role") ?? "" : "";
            if (role is not ("system" or "user" or "assistant" or "developer" or "tool"))
                throw ApiError.BadRequest($"each message needs a role of system, developer, user, assistant or tool (got \"{role}\")", "messages");
            bool hasCalls = role == "assistant" && message.TryGetProperty("tool_calls", out var calls) && calls.ValueKind == JsonValueKind.Array && calls.GetArrayLength() > 0;
            if (!message.TryGetProperty("content", out var content))
            {
                if (!hasCalls) throw ApiError.BadRequest("each message needs content (an assistant message with tool_calls may leave it out)", "messages");
                content = default;
            }
            string text = content.ValueKind switch
            {
                JsonValueKind.String => content.GetString()!,
                JsonValueKind.Array => string.Concat(content.EnumerateArray().Select(part =>
                    part.ValueKind == JsonValueKind.Object && OptionalString(part, "type") == "text" && OptionalString(part, "text") is string t ? t
                    : throw ApiError.BadRequest("only text content parts ({\"type\":\"text\",\"text\":...}) are supported", "messages"))),
                JsonValueKind.Null or JsonValueKind.Undefined => "",
                _ => throw ApiError.BadRequest("message content must be a string or an array of text parts", "messages"),
            };
            var fields = new Dictionary<string, object?>();
            foreach (var property in message.EnumerateObject()) fields[property.Name] = property.Value.Clone();
            fields["role"] = role;
            fields["content"] = text;
            if (role == "assistant" && message.TryGetProperty("tool_calls", out var toolCalls) && toolCalls.ValueKind != JsonValueKind.Null)
                fields["tool_calls"] = TemplateToolCalls(toolCalls);
            result.Add(fields);
        }
        return result;
    }

    /// <summary>
    /// An assistant message's <c>tool_calls</c> as chat templates expect them (transformers' convention, as vLLM passes
    /// them too): OpenAI's <c>function.arguments</c> JSON string becomes the object it encodes, so a template's
    /// <c>arguments | tojson</c> writes the object rather than a quoted string. Arguments that are not valid JSON stay a string.
    /// </summary>
    static List<object?> TemplateToolCalls(JsonElement toolCalls)
    {
        const string Shape = "tool_calls must be an array of {\"id\", \"type\": \"function\", \"function\": {\"name\": string, \"arguments\": JSON string}}";
        if (toolCalls.ValueKind != JsonValueKind.Array) throw ApiError.BadRequest(Shape, "messages");
        var result = new List<object?>();
        foreach (var call in toolCalls.EnumerateArray())
        {
            if (call.ValueKind != JsonValueKind.Object || !call.TryGetProperty("function", out var function) || function.ValueKind != JsonValueKind.Object
                || !function.TryGetProperty("name", out var name) || name.ValueKind != JsonValueKind.String)
                throw ApiError.BadRequest(Shape, "messages");
            var f = new Dictionary<string, object?>();
            foreach (var p in function.EnumerateObject()) f[p.Name] = p.Value.Clone();
            if (function.TryGetProperty("arguments", out var arguments) && arguments.ValueKind == JsonValueKind.String)
            {
                try
                {
                    using var parsed = JsonDocument.Parse(arguments.GetString()!);
                    f["arguments"] = parsed.RootElement.Clone();
                }
                catch (JsonException)
                {
                }
            }
            var c = new Dictionary<string, object?>();
            foreach (var p in call.EnumerateObject()) c[p.Name] = p.Value.Clone();
            c["function"] = f;
            result.Add(c);
        }
        return result;
    }

    /// <summary>
    /// The request's <c>tools</c> (each <c>{"type": "function", "function": {"name", ...}}</c>) and <c>tool_choice</c>:
    /// "auto" (the default with tools) renders them and parses calls from the reply; "none" does neither. "required"
    /// and a named function would need constrained decoding, which this server does not do: they are refused.
    /// </summary>
    static ToolRequest Tools(JsonElement root)
    {
        JsonElement? tools = null;
        if (root.TryGetProperty("tools", out var t) && t.ValueKind != JsonValueKind.Null)
        {
            if (t.ValueKind != JsonValueKind.Array) throw ApiError.BadRequest("tools must be an array of {\"type\": \"function\", \"function\": {\"name\": ...}}", "tools");
            int i = 0;
            foreach (var tool in t.EnumerateArray())
            {
                if (tool.ValueKind != JsonValueKind.Object || !tool.TryGetProperty("type", out var type) || type.ValueKind != JsonValueKind.String || type.GetString() != "function"
                    || !tool.TryGetProperty("function", out var f) || f.ValueKind != JsonValueKind.Object
                    || !f.TryGetProperty("name", out var n) || n.ValueKind != JsonValueKind.String || n.GetString()!.Length == 0)
                    throw ApiError.BadRequest($"tools[{i}] must be {{\"type\": \"function\", \"function\": {{\"name\": string, \"description\"?, \"parameters\"?}}}}", "tools");
                i++;
            }
            if (i > 0) tools = t.Clone();
        }
        string choice = "auto";
        if (root.TryGetProperty("tool_choice", out var c) && c.ValueKind != JsonValueKind.Null)
        {
            if (c.ValueKind == JsonValueKind.String && c.GetString() is "auto" or "none") choice = c.GetString()!;
            else if (c.ValueKind == JsonValueKind.String && c.GetString() == "required" || c.ValueKind == JsonValueKind.Object)
                throw ApiError.BadRequest("tool_choice \"required\" and a named function need constrained decoding, which this server does not do; use \"auto\" (the model decides) or \"none\"", "tool_choice");
            else throw ApiError.BadRequest("tool_choice must be \"auto\" or \"none\"", "tool_choice");
        }
        if (tools is null) return ToolRequest.NoTools;
        return choice == "none" ? new ToolRequest(tools, false, false) : new ToolRequest(tools, true, true);
    }

    static GenerationConfig Sampling(JsonElement root)
    {
        double temperature = OptionalDouble(root, "temperature") ?? 1.0;
        if (temperature is < 0 or > 2) throw ApiError.BadRequest($"temperature must be in [0, 2] (got {temperature})", "temperature");
        double topP = OptionalDouble(root, "top_p") ?? 1.0;
        if (!(topP > 0 && topP <= 1)) throw ApiError.BadRequest($"top_p must be in (0, 1] (got {topP})", "top_p");
        int topK = OptionalInt(root, "top_k") ?? 0;
        if (topK < -1) throw ApiError.BadRequest($"top_k must be -1 or 0 (all tokens) or positive (got {topK})", "top_k");
        double penalty = OptionalDouble(root, "repetition_penalty") ?? 1.0;
        if (!(penalty > 0)) throw ApiError.BadRequest($"repetition_penalty must be positive (got {penalty})", "repetition_penalty");
        long? seed = root.TryGetProperty("seed", out var s) && s.ValueKind != JsonValueKind.Null
            ? (s.ValueKind == JsonValueKind.Number && s.TryGetInt64(out long v) ? v : throw ApiError.BadRequest("seed must be an integer", "seed")) : null;
        var config = new GenerationConfig
        {
            DoSample = temperature > 0,
            Temperature = temperature > 0 ? temperature : 1.0,
            TopP = topP,
            TopK = Math.Max(topK, 0),
            RepetitionPenalty = penalty,
            Seed = seed,
        };
        config.Validate();
        return config;
    }

    static IReadOnlyList<string> Stops(JsonElement root)
    {
        if (!root.TryGetProperty("stop", out var stop) || stop.ValueKind == JsonValueKind.Null) return [];
        if (stop.ValueKind == JsonValueKind.String) return stop.GetString()!.Length > 0 ? [stop.GetString()!] : [];
        if (stop.ValueKind == JsonValueKind.Array && stop.EnumerateArray().All(x => x.ValueKind == JsonValueKind.String && x.GetString()!.Length > 0))
            return [.. stop.EnumerateArray().Select(x => x.GetString()!)];
        throw ApiError.BadRequest("stop must be a non-empty string or an array of them", "stop");
    }

    static string? OptionalString(JsonElement e, string name) =>
        !e.TryGetProperty(name, out var v) || v.ValueKind == JsonValueKind.Null ? null
        : v.ValueKind == JsonValueKind.String ? v.GetString() : throw ApiError.BadRequest($"{name} must be a string", name);

    static int? OptionalInt(JsonElement e, string name) =>
        !e.TryGetProperty(name, out var v) || v.ValueKind == JsonValueKind.Null ? null
        : v.ValueKind == JsonValueKind.Number && v.TryGetInt32(out int i) ? i : throw ApiError.BadRequest($"{name} must be an integer", name);

    static double? OptionalDouble(JsonElement e, string name) =>
        !e.TryGetProperty(name, out var v) || v.ValueKind == JsonValueKind.Null ? null
        : v.ValueKind == JsonValueKind.Number ? v.GetDouble() : throw ApiError.BadRequest($"{name} must be a number", name);

    internal static byte[] Json(Action<Utf8JsonWriter> write)
    {
        var buffer = new ArrayBufferWriter<byte>();
        using (var w = new Utf8JsonWriter(buffer)) write(w);
        return buffer.WrittenSpan.ToArray();
    }

    internal static async Task WriteJson(HttpContext context, int status, byte[] body)
    {
        context.Response.StatusCode = status;
        context.Response.ContentType = "application/json";
        context.Response.ContentLength = body.Length;
        await context.Response.Body.WriteAsync(body).ConfigureAwait(false);
    }

    /// <summary>OpenAI's error body.</summary>
    internal static byte[] ErrorBody(ApiError e) => Json(w =>
    {
        w.WriteStartObject();
        w.WriteStartObject("error");
        w.WriteString("message", e.Message);
        w.WriteString("type", e.Type);
        if (e.Param is null) w.WriteNull("param"); else w.WriteString("param", e.Param);
        if (e.Code is null) w.WriteNull("code"); else w.WriteString("code", e.Code);
        w.WriteEndObject();
        w.WriteEndObject();
    });
}
