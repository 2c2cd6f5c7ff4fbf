using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;
using Tessera.Runtime.Generation;
using Tessera.Text.Generation;

namespace Tessera.Serving.Tests;

/// <summary>The OpenAI-compatible endpoints against a running server, checked against the library's own generation loop and an independent Python SSE client.</summary>
[Collection(ServingCollection.Name)]
public class OpenAiApiTests(ServingModels models)
{
    static string SseClient => Path.Combine(AppContext.BaseDirectory, "sse_client.py");

    [Fact]
    public async Task Greedy_completion_matches_the_library_generation_loop_in_OpenAI_shape()
    {
        await using var h = await ServerHarness.StartAsync(new ServerOptions(), new ServedModel("lm", models.LanguageModel));
        using var response = await h.PostJson("/v1/completions", new { model = "lm", prompt = "You will", max_tokens = 8, temperature = 0 });
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var body = await ServerHarness.Json(response);

        using var generator = OrtTextGenerator.FromPretrained(models.LanguageModel);
        var expected = generator.Generate("You will", generator.GenerationConfig with { MaxNewTokens = 8, DoSample = false });
        Assert.Equal("text_completion", (string?)body["object"]);
        Assert.StartsWith("cmpl-", (string?)body["id"]);
        Assert.Equal("lm", (string?)body["model"]);
        Assert.True((long)body["created"]! > 1_700_000_000);
        var choice = body["choices"]![0]!;
        Assert.Equal(expected.Text, (string?)choice["text"]);
        Assert.Equal(0, (int)choice["index"]!);
        Assert.Equal(expected.FinishReason == FinishReason.Length ? "length" : "stop", (string?)choice["finish_reason"]);
        Assert.Equal(expected.PromptIds.Count, (int)body["usage"]!["prompt_tokens"]!);
        Assert.Equal(expected.TokenIds.Count, (int)body["usage"]!["completion_tokens"]!);
        Assert.Equal(expected.PromptIds.Count + expected.TokenIds.Count, (int)body["usage"]!["total_tokens"]!);

        var list = JsonNode.Parse(await h.Client.GetStringAsync("/v1/models"))!;
        Assert.Equal("list", (string?)list["object"]);
        Assert.Equal("lm", (string?)list["data"]![0]!["id"]);
        Assert.Equal("model", (string?)list["data"]![0]!["object"]);
    }

    [Fact]
    public async Task Streams_parsed_by_an_independent_client_carry_the_same_text_a_finish_reason_usage_and_DONE()
    {
        Requires.Python();
        await using var h = await ServerHarness.StartAsync(new ServerOptions(), new ServedModel("lm", models.LanguageModel));
        var whole = await ServerHarness.Json(await h.PostJson("/v1/completions", new { model = "lm", prompt = "The cat", max_tokens = 10, temperature = 0.8, seed = 11, top_p = 0.9 }));
        string body = JsonSerializer.Serialize(new { model = "lm", prompt = "The cat", max_tokens = 10, temperature = 0.8, seed = 11, top_p = 0.9, stream = true, stream_options = new { include_usage = true } });
        var summary = JsonNode.Parse(await Task.Run(() => ReferencePython.Run(File.ReadAllText(SseClient), h.Url("/v1/completions").ToString(), body)))!;
        Assert.StartsWith("text/event-stream", (string?)summary["content_type"]);
        Assert.True((bool)summary["done"]!);
        Assert.Equal(0, (int)summary["after_done"]!);
        Assert.Equal((string?)whole["choices"]![0]!["text"], (string?)summary["text"]);
        Assert.Equal((string?)whole["choices"]![0]!["finish_reason"], (string?)summary["finish_reason"]);
        Assert.Equal(whole["usage"]!.ToJsonString(), summary["usage"]!.ToJsonString());
        Assert.Equal(1, (int)summary["ids"]!);
        Assert.True((bool)summary["usage_null_on_others"]!);
        Assert.Equal("""["text_completion"]""", summary["objects"]!.ToJsonString());

        // Chat: a first chunk with the role, deltas, a final chunk with the finish reason, no usage unless asked.
        var messages = new object[] { new { role = "system", content = "Be brief." }, new { role = "user", content = "Hello" } };
        var chatWhole = await ServerHarness.Json(await h.PostJson("/v1/chat/completions", new { model = "lm", messages, max_tokens = 6, temperature = 0 }));
        Assert.Equal("chat.completion", (string?)chatWhole["object"]);
        Assert.Equal("assistant", (string?)chatWhole["choices"]![0]!["message"]!["role"]);
        string chatBody = JsonSerializer.Serialize(new { model = "lm", messages, max_tokens = 6, temperature = 0, stream = true });
        var chat = JsonNode.Parse(await Task.Run(() => ReferencePython.Run(File.ReadAllText(SseClient), h.Url("/v1/chat/completions").ToString(), chatBody)))!;
        Assert.True((bool)chat["done"]!);
        Assert.Equal("""["assistant"]""", chat["roles"]!.ToJsonString());
        Assert.Equal((string?)chatWhole["choices"]![0]!["message"]!["content"], (string?)chat["text"]);
        Assert.Equal((string?)chatWhole["choices"]![0]!["finish_reason"], (string?)chat["finish_reason"]);
        Assert.Null(chat["usage"]);
        Assert.Equal("""["chat.completion.chunk"]""", chat["objects"]!.ToJsonString());
        // The chat prompt is the documented plain format.
        using var generator = OrtTextGenerator.FromPretrained(models.LanguageModel);
        var expected = generator.Generate("system: Be brief.\nuser: Hello\nassistant:", generator.GenerationConfig with { MaxNewTokens = 6, DoSample = false });
        Assert.Equal(expected.Text, (string?)chat["text"]);
    }

    [Fact]
    public async Task Stop_strings_repetition_penalty_and_top_k_are_applied()
    {
        await using var h = await ServerHarness.StartAsync(new ServerOptions(), new ServedModel("lm", models.LanguageModel));
        var free = await ServerHarness.Json(await h.PostJson("/v1/completions", new { model = "lm", prompt = "One two", max_tokens = 12, temperature = 0 }));
        string text = (string)free["choices"]![0]!["text"]!;
        Assert.True(text.Length > 3, text);
        string stop = text.Substring(2, 2);
        var stopped = await ServerHarness.Json(await h.PostJson("/v1/completions", new { model = "lm", prompt = "One two", max_tokens = 12, temperature = 0, stop = new[] { stop } }));
        Assert.Equal(text[..text.IndexOf(stop, StringComparison.Ordinal)], (string?)stopped["choices"]![0]!["text"]);
        Assert.Equal("stop", (string?)stopped["choices"]![0]!["finish_reason"]);

        using var generator = OrtTextGenerator.FromPretrained(models.LanguageModel);
        var config = generator.GenerationConfig with { MaxNewTokens = 12, DoSample = true, Seed = 5, TopK = 3, Temperature = 0.7, RepetitionPenalty = 1.3 };
        var served = await ServerHarness.Json(await h.PostJson("/v1/completions", new { model = "lm", prompt = "One two", max_tokens = 12, temperature = 0.7, top_k = 3, seed = 5, repetition_penalty = 1.3 }));
        Assert.Equal(generator.Generate("One two", config).Text, (string?)served["choices"]![0]!["text"]);
    }

    [Fact]
    public async Task Bad_requests_get_OpenAI_errors_with_the_numbers()
    {
        await using var h = await ServerHarness.StartAsync(new ServerOptions { MaxTokensCap = 100, MaxBodyBytes = 2000 }, new ServedModel("lm", models.LanguageModel));
        async Task<(HttpStatusCode, JsonNode)> Post(string json)
        {
            using var r = await h.PostRaw("/v1/completions", json);
            return (r.StatusCode, await ServerHarness.Json(r));
        }
        var (status, body) = await Post("""{"model":"lm","prompt":"hi","max_tokens":101}""");
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Contains("101", (string?)body["error"]!["message"]);
        Assert.Contains("100", (string?)body["error"]!["message"]);
        Assert.Equal("invalid_request_error", (string?)body["error"]!["type"]);
        Assert.Equal("max_tokens", (string?)body["error"]!["param"]);

        string longPrompt = string.Concat(Enumerable.Repeat(" x", 250));
        (status, body) = await Post(JsonSerializer.Serialize(new { model = "lm", prompt = longPrompt, max_tokens = 10 }));
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Contains("maximum context length is 256 tokens", (string?)body["error"]!["message"]);
        Assert.Contains("260 tokens (250 in the prompt, 10 in the completion)", (string?)body["error"]!["message"]);

        (status, body) = await Post("""{"model":"nope","prompt":"hi"}""");
        Assert.Equal(HttpStatusCode.NotFound, status);
        Assert.Equal("model_not_found", (string?)body["error"]!["code"]);
        (status, body) = await Post("""{"model":"lm","prompt":"hi","temperature":"hot"}""");
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal("temperature", (string?)body["error"]!["param"]);
        (status, _) = await Post("""{"model":"lm","prompt":""" );
        Assert.Equal(HttpStatusCode.BadRequest, status);
        (status, body) = await Post(JsonSerializer.Serialize(new { model = "lm", prompt = new string('a', 3000) }));
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, status);
        Assert.Contains("2000", (string?)body["error"]!["message"]);
    }

    [Fact]
    public async Task An_API_key_is_required_when_set()
    {
        await using var h = await ServerHarness.StartAsync(new ServerOptions { ApiKey = "s3cret" }, new ServedModel("lm", models.LanguageModel));
        using var none = await h.PostJson("/v1/completions", new { model = "lm", prompt = "hi", max_tokens = 2 });
        Assert.Equal(HttpStatusCode.Unauthorized, none.StatusCode);
        Assert.Equal("invalid_api_key", (string?)(await ServerHarness.Json(none))["error"]!["code"]);
        using var wrong = await h.PostJson("/v1/completions", new { model = "lm", prompt = "hi", max_tokens = 2 }, key: "s3cres");
        Assert.Equal(HttpStatusCode.Unauthorized, wrong.StatusCode);
        using var right = await h.PostJson("/v1/completions", new { model = "lm", prompt = "hi", max_tokens = 2 }, key: "s3cret");
        Assert.Equal(HttpStatusCode.OK, right.StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await h.Client.GetAsync("/v2/health/live")).StatusCode); // probes stay open
    }

    [Fact]
    public async Task Metrics_count_requests_tokens_and_latencies_under_vLLM_names()
    {
        await using var h = await ServerHarness.StartAsync(new ServerOptions(), new ServedModel("lm", models.LanguageModel));
        for (int i = 0; i < 2; i++)
            Assert.Equal(HttpStatusCode.OK, (await h.PostJson("/v1/completions", new { model = "lm", prompt = "Hello there", max_tokens = 4, temperature = 0 })).StatusCode);
        const string labels = "{model_name=\"lm\"}";
        Assert.Equal(2, await h.Metric("tessera:request_success_total{model_name=\"lm\",finished_reason=\"length\"}"));
        Assert.Equal(8, await h.Metric("tessera:generation_tokens_total" + labels));
        Assert.Equal(4, await h.Metric("tessera:prompt_tokens_total" + labels)); // "Hello there" is 2 GPT-2 tokens
        Assert.Equal(2, await h.Metric("tessera:time_to_first_token_seconds_count" + labels));
        Assert.Equal(6, await h.Metric("tessera:inter_token_latency_seconds_count" + labels));
        Assert.Equal(2, await h.Metric("tessera:e2e_request_latency_seconds_count" + labels));
        Assert.Equal(2, await h.Metric("tessera:request_queue_time_seconds_count" + labels));
        Assert.Equal(2, await h.Metric("tessera:e2e_request_latency_seconds_bucket{model_name=\"lm\",le=\"+Inf\"}"));
        Assert.Equal(0, await h.Metric("tessera:num_requests_running" + labels));
        Assert.Equal(0, await h.Metric("tessera:num_requests_waiting" + labels));
    }
}
