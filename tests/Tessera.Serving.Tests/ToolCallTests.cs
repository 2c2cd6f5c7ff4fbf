using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;
using Tessera.Text;
using Tessera.Text.Templates;

namespace Tessera.Serving.Tests;

/// <summary>
/// Tool calling: the parser that finds calls in a model's output, and the whole path through the server with a
/// scripted decoder that "generates" a tool call (a tiny random model never would): the tool_use template renders the
/// tools and the conversation's calls and results, the reply carries OpenAI's tool_calls, whole and streamed.
/// </summary>
[Collection(ServingCollection.Name)]
public class ToolCallTests(ServingModels models)
{
    static string SseClient => Path.Combine(AppContext.BaseDirectory, "sse_client.py");

    /// <summary>Feeds <paramref name="text"/> in pieces of <paramref name="step"/> characters; returns the content and the calls.</summary>
    static (string Content, List<ToolCall> Calls, List<int> Indexes) Parse(ToolCallFormat format, string text, int step)
    {
        var parser = new ToolCallParser(format);
        var pieces = new List<ToolCallPiece>();
        for (int i = 0; i < text.Length; i += step) pieces.AddRange(parser.Feed(text.Substring(i, Math.Min(step, text.Length - i))));
        pieces.AddRange(parser.Finish());
        Assert.DoesNotContain(pieces, p => p.Content is { Length: 0 });
        return (string.Concat(pieces.Select(p => p.Content)), [.. pieces.Where(p => p.Call is not null).Select(p => p.Call!)], [.. pieces.Where(p => p.Call is not null).Select(p => p.Index)]);
    }

    static void SameJson(string expected, string actual) =>
        Assert.True(JsonNode.DeepEquals(JsonNode.Parse(expected), JsonNode.Parse(actual)), $"expected {expected}, got {actual}");

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    [InlineData(1000)]
    public void Hermes_calls_are_found_wherever_the_output_is_cut(int step)
    {
        string output = "Let me check both.\n<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\", \"unit\": \"celsius\"}}\n</tool_call>\n<tool_call>\n{\"name\": \"get_time\", \"arguments\": {}}\n</tool_call>";
        var (content, calls, indexes) = Parse(ToolCallFormat.Hermes, output, step);
        Assert.Equal("Let me check both.", content);
        Assert.Equal(["get_weather", "get_time"], calls.Select(c => c.Name));
        Assert.Equal("{\"city\": \"Paris\", \"unit\": \"celsius\"}", calls[0].Arguments); // as the model wrote them
        Assert.Equal("{}", calls[1].Arguments);
        Assert.Equal([0, 1], indexes);
        Assert.All(calls, c => Assert.Matches("^call_[0-9a-f]{24}$", c.Id));
        Assert.NotEqual(calls[0].Id, calls[1].Id);

        // A block the output ends inside counts when its JSON is whole (models often stop at EOS before the closing tag).
        (content, calls, _) = Parse(ToolCallFormat.Hermes, "<tool_call>\n{\"name\": \"f\", \"arguments\": {\"x\": [1, 2]}}\n", step);
        Assert.Equal("", content);
        Assert.Equal("f", Assert.Single(calls).Name);
        SameJson("{\"x\": [1, 2]}", calls[0].Arguments);

        // Arguments written as a JSON string pass through as that string.
        (_, calls, _) = Parse(ToolCallFormat.Hermes, "<tool_call>{\"name\": \"f\", \"arguments\": \"{\\\"x\\\": 1}\"}</tool_call>", step);
        Assert.Equal("{\"x\": 1}", Assert.Single(calls).Arguments);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(1000)]
    public void Output_that_is_no_call_comes_out_unchanged(int step)
    {
        foreach (string output in new[]
        {
            "Plain text, no call.  \n\n",
            "A lone < and <tool and <tool_cal at the end <tool_",
            "Broken: <tool_call>{\"name\": oops}</tool_call> and after ",
            "  <tool_call>{\"arguments\": {}}</tool_call>",            // no name
            "Cut off: <tool_call>{\"name\": \"f\", \"argu",           // the output ended inside the JSON
        })
        {
            var (content, calls, _) = Parse(ToolCallFormat.Hermes, output, step);
            Assert.Empty(calls);
            Assert.Equal(output, content);
            Assert.Equal(output, Parse(ToolCallFormat.None, output, step).Content);
            Assert.Equal(output, Parse(ToolCallFormat.Llama3Json, output, step).Content);
        }
        // Tool-call text is left alone when parsing is off.
        string call = "<tool_call>{\"name\": \"f\", \"arguments\": {}}</tool_call>";
        Assert.Equal(call, Parse(ToolCallFormat.None, call, step).Content);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(1000)]
    public void Llama3_json_calls_are_the_whole_output(int step)
    {
        var (content, calls, _) = Parse(ToolCallFormat.Llama3Json, " {\"name\": \"get_weather\", \"parameters\": {\"city\": \"Paris\"}}", step);
        Assert.Equal("", content);
        Assert.Equal("get_weather", Assert.Single(calls).Name);
        Assert.Equal("{\"city\": \"Paris\"}", calls[0].Arguments);

        (content, calls, _) = Parse(ToolCallFormat.Llama3Json, "<|python_tag|>{\"name\": \"a\", \"parameters\": {\"s\": \"x; y}\"}}; {\"name\": \"b\", \"arguments\": {}}", step);
        Assert.Equal("", content);
        Assert.Equal(["a", "b"], calls.Select(c => c.Name));
        SameJson("{\"s\": \"x; y}\"}", calls[0].Arguments);

        (content, calls, _) = Parse(ToolCallFormat.Llama3Json, "{\"not\": \"a call\"}", step);
        Assert.Empty(calls);
        Assert.Equal("{\"not\": \"a call\"}", content);
    }

    [Fact]
    public void The_whole_reply_has_OpenAIs_message_shape()
    {
        static JsonNode Message(ChatReply reply) => JsonNode.Parse(OpenAiApi.Json(w => { w.WriteStartObject(); reply.WriteMessage(w); w.WriteEndObject(); }))!["message"]!;

        var reply = ChatReply.From("On it.\n<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}\n</tool_call>", "stop", ToolCallFormat.Hermes);
        Assert.Equal("tool_calls", reply.FinishReason);
        var message = Message(reply);
        Assert.Equal("assistant", (string?)message["role"]);
        Assert.Equal("On it.", (string?)message["content"]);
        var call = Assert.Single(message["tool_calls"]!.AsArray())!;
        Assert.StartsWith("call_", (string?)call["id"]);
        Assert.Equal("function", (string?)call["type"]);
        Assert.Equal("get_weather", (string?)call["function"]!["name"]);
        Assert.Equal(JsonValueKind.String, call["function"]!["arguments"]!.GetValueKind()); // a JSON string, as OpenAI sends it
        SameJson("{\"city\": \"Paris\"}", (string)call["function"]!["arguments"]!);
        Assert.Null(call["index"]);

        // Only a call: content is null. No call: the text and finish reason as generated, and no tool_calls field.
        message = Message(ChatReply.From("<tool_call>{\"name\": \"f\", \"arguments\": {}}</tool_call>", "stop", ToolCallFormat.Hermes));
        Assert.Equal(JsonValueKind.Null, message.AsObject()["content"]?.GetValueKind() ?? JsonValueKind.Null);
        Assert.True(message.AsObject().ContainsKey("content"));
        reply = ChatReply.From("Just text ", "length", ToolCallFormat.Hermes);
        Assert.Equal("length", reply.FinishReason);
        message = Message(reply);
        Assert.Equal("Just text ", (string?)message["content"]);
        Assert.False(message.AsObject().ContainsKey("tool_calls"));
    }

    const string Reply = "I will look it up.\n<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\", \"unit\": \"celsius\"}}\n</tool_call>";

    static readonly object[] Tools =
    [
        new { type = "function", function = new { name = "get_weather", description = "Current weather", parameters = new { type = "object", properties = new { city = new { type = "string" }, unit = new { type = "string" } }, required = new[] { "city" } } } },
    ];

    /// <summary>A folder served by a <see cref="ScriptedDecoder"/> that replies <see cref="Reply"/>, with ChatML as default and the Qwen-style template as tool_use.</summary>
    (string Folder, ScriptedDecoder Decoder, HfTokenizer Tokenizer) ScriptedModel(TempDirectory temp, string reply = Reply)
    {
        string folder = GatedDecoder.FolderFor(models.LanguageModel, temp.File("scripted"));
        string configPath = Path.Combine(folder, "tokenizer_config.json");
        var config = File.Exists(configPath) ? JsonNode.Parse(File.ReadAllText(configPath))!.AsObject() : [];
        const string ChatMl = "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";
        config["chat_template"] = new JsonArray(new JsonObject { ["name"] = "default", ["template"] = ChatMl }, new JsonObject { ["name"] = "tool_use", ["template"] = ToolChatTemplates.QwenStyle });
        File.WriteAllText(configPath, config.ToJsonString());
        var tokenizer = AutoTokenizer.FromPretrained(folder);
        var script = tokenizer.Encode(reply, addSpecialTokens: false).Ids;
        Assert.Equal(reply, tokenizer.Decode(script)); // byte-level BPE: the script decodes back to the reply
        return (folder, new ScriptedDecoder(50257, 50256, script), tokenizer);
    }

    [Fact]
    public async Task A_generated_tool_call_comes_back_as_tool_calls_whole_and_streamed()
    {
        using var temp = new TempDirectory("tessera-serve-tools-");
        var (folder, decoder, tokenizer) = ScriptedModel(temp);
        await using var h = await ServerHarness.StartAsync(new ServerOptions { FolderLoader = _ => decoder }, new ServedModel("lm", folder));

        // The conversation so far, in OpenAI's shape: an earlier call (arguments as a JSON string, content null) and its result.
        object[] messages =
        [
            new { role = "system", content = "Be brief." },
            new { role = "user", content = "Weather in Oslo?" },
            new { role = "assistant", content = (string?)null, tool_calls = new object[] { new { id = "call_a", type = "function", function = new { name = "get_weather", arguments = "{\"city\": \"Oslo\"}" } } } },
            new { role = "tool", tool_call_id = "call_a", content = "3°C" },
            new { role = "assistant", content = "3°C in Oslo." },
            new { role = "user", content = "And Paris?" },
        ];
        using var response = await h.PostJson("/v1/chat/completions", new { model = "lm", messages, tools = Tools, temperature = 0, max_tokens = 200 });
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var body = await ServerHarness.Json(response);
        var choice = body["choices"]![0]!;
        Assert.Equal("tool_calls", (string?)choice["finish_reason"]);
        Assert.Equal("I will look it up.", (string?)choice["message"]!["content"]);
        var call = Assert.Single(choice["message"]!["tool_calls"]!.AsArray())!;
        Assert.Matches("^call_[0-9a-f]{24}$", (string?)call["id"]);
        Assert.Equal("function", (string?)call["type"]);
        Assert.Equal("get_weather", (string?)call["function"]!["name"]);
        SameJson("{\"city\": \"Paris\", \"unit\": \"celsius\"}", (string)call["function"]!["arguments"]!);
        Assert.Equal(tokenizer.Encode(Reply, addSpecialTokens: false).Ids.Count + 1, (int)body["usage"]!["completion_tokens"]!); // the reply and EOS

        // The prompt: the tool_use template with the tools, and the earlier call's arguments as an object (transformers' convention).
        var hfMessages = JsonSerializer.SerializeToElement(new object[]
        {
            messages[0], messages[1],
            new { role = "assistant", content = "", tool_calls = new object[] { new { id = "call_a", type = "function", function = new { name = "get_weather", arguments = new { city = "Oslo" } } } } },
            messages[3], messages[4], messages[5],
        });
        string expectedPrompt = JinjaTemplate.Parse(ToolChatTemplates.QwenStyle).Render(new Dictionary<string, object?>
        {
            ["messages"] = hfMessages, ["tools"] = JsonSerializer.SerializeToElement(Tools), ["add_generation_prompt"] = true,
        });
        Assert.Contains("<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Oslo\"}}\n</tool_call>", expectedPrompt);
        Assert.True(decoder.Prompts.TryDequeue(out int[]? prompt));
        Assert.Equal(expectedPrompt, tokenizer.Decode(prompt));

        // Streamed, read by an independent client (Python) that accumulates delta.tool_calls as OpenAI's clients do.
        Requires.Python();
        string streamBody = JsonSerializer.Serialize(new { model = "lm", messages, tools = Tools, temperature = 0, max_tokens = 200, stream = true });
        var summary = JsonNode.Parse(await Task.Run(() => ReferencePython.Run(File.ReadAllText(SseClient), h.Url("/v1/chat/completions").ToString(), streamBody)))!;
        Assert.True((bool)summary["done"]!);
        Assert.Equal("tool_calls", (string?)summary["finish_reason"]);
        Assert.Equal("I will look it up.", (string?)summary["text"]);
        var streamed = Assert.Single(summary["tool_calls"]!.AsArray())!;
        Assert.Matches("^call_[0-9a-f]{24}$", (string?)streamed["id"]);
        Assert.Equal("function", (string?)streamed["type"]);
        Assert.Equal("get_weather", (string?)streamed["name"]);
        SameJson("{\"city\": \"Paris\", \"unit\": \"celsius\"}", (string)streamed["arguments"]!);
    }

    [Fact]
    public async Task Tool_choice_none_renders_no_tools_and_parses_no_calls_and_unsupported_choices_are_400()
    {
        using var temp = new TempDirectory("tessera-serve-tools-");
        var (folder, decoder, tokenizer) = ScriptedModel(temp);
        await using var h = await ServerHarness.StartAsync(new ServerOptions { FolderLoader = _ => decoder }, new ServedModel("lm", folder));
        object[] messages = [new { role = "user", content = "Paris?" }];

        using var none = await h.PostJson("/v1/chat/completions", new { model = "lm", messages, tools = Tools, tool_choice = "none", temperature = 0 });
        Assert.Equal(HttpStatusCode.OK, none.StatusCode);
        var choice = (await ServerHarness.Json(none))["choices"]![0]!;
        Assert.Equal("stop", (string?)choice["finish_reason"]);
        Assert.Equal(Reply, (string?)choice["message"]!["content"]);
        Assert.Null(choice["message"]!["tool_calls"]);
        Assert.True(decoder.Prompts.TryDequeue(out int[]? prompt));
        Assert.Equal("<|im_start|>user\nParis?<|im_end|>\n<|im_start|>assistant\n", tokenizer.Decode(prompt)); // the default template, no tools

        // Without tools the same reply is plain content too.
        using var plain = await h.PostJson("/v1/chat/completions", new { model = "lm", messages, temperature = 0 });
        Assert.Equal(Reply, (string?)(await ServerHarness.Json(plain))["choices"]![0]!["message"]!["content"]);

        foreach (object choiceValue in new object[] { "required", new { type = "function", function = new { name = "get_weather" } }, "sometimes" })
        {
            using var refused = await h.PostJson("/v1/chat/completions", new { model = "lm", messages, tools = Tools, tool_choice = choiceValue });
            Assert.Equal(HttpStatusCode.BadRequest, refused.StatusCode);
            Assert.Equal("tool_choice", (string?)(await ServerHarness.Json(refused))["error"]!["param"]);
        }
        using var badTools = await h.PostJson("/v1/chat/completions", new { model = "lm", messages, tools = new object[] { new { type = "function", function = new { description = "no name" } } } });
        Assert.Equal(HttpStatusCode.BadRequest, badTools.StatusCode);
        Assert.Contains("tools[0]", (string?)(await ServerHarness.Json(badTools))["error"]!["message"]);
        using var badCalls = await h.PostJson("/v1/chat/completions", new { model = "lm", messages = new object[] { messages[0], new { role = "assistant", tool_calls = new object[] { new { id = "x" } } } } });
        Assert.Equal(HttpStatusCode.BadRequest, badCalls.StatusCode);
        Assert.Contains("tool_calls", (string?)(await ServerHarness.Json(badCalls))["error"]!["message"]);
    }

    [Fact]
    public async Task A_model_without_a_chat_template_refuses_tools()
    {
        await using var h = await ServerHarness.StartAsync(new ServerOptions(), new ServedModel("lm", models.LanguageModel));
        using var response = await h.PostJson("/v1/chat/completions", new { model = "lm", messages = new object[] { new { role = "user", content = "Hi" } }, tools = Tools, max_tokens = 2 });
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var error = (await ServerHarness.Json(response))["error"]!;
        Assert.Equal("tools", (string?)error["param"]);
        Assert.Contains("no chat template", (string?)error["message"]);
    }
}
