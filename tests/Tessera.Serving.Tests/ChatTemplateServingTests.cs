using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;
using Tessera.Runtime.Generation;

namespace Tessera.Serving.Tests;

/// <summary>/v1/chat/completions renders the model's chat template (tokenizer_config.json or chat_template.jinja) when it has one.</summary>
[Collection(ServingCollection.Name)]
public class ChatTemplateServingTests(ServingModels models)
{
    // ChatML, the template a model folder would carry; the rendered prompt below is written out by hand.
    const string ChatMl = "{% for message in messages %}{% if loop.first and message.role != 'system' %}{{ raise_exception('the first message must be the system message') }}{% endif %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] | trim + '<|im_end|>' + '\\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

    static string CopyWithTemplate(string source, string destination, bool jinjaFile)
    {
        foreach (string file in Directory.EnumerateFiles(source, "*", SearchOption.AllDirectories))
        {
            string target = Path.Combine(destination, Path.GetRelativePath(source, file));
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            File.Copy(file, target);
        }
        if (jinjaFile) File.WriteAllText(Path.Combine(destination, "chat_template.jinja"), ChatMl + "\n");
        else
        {
            string configPath = Path.Combine(destination, "tokenizer_config.json");
            var config = File.Exists(configPath) ? JsonNode.Parse(File.ReadAllText(configPath))!.AsObject() : [];
            config["chat_template"] = ChatMl;
            File.WriteAllText(configPath, config.ToJsonString());
        }
        return destination;
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Chat_completions_render_the_models_chat_template(bool jinjaFile)
    {
        using var temp = new TempDirectory("tessera-serve-chat-");
        string folder = CopyWithTemplate(models.LanguageModel, Path.Combine(temp.Path, "lm"), jinjaFile);
        await using var h = await ServerHarness.StartAsync(new ServerOptions(), new ServedModel("lm", folder));
        var messages = new object[] { new { role = "system", content = "Be brief. " }, new { role = "user", content = "Hello" } };
        using var response = await h.PostJson("/v1/chat/completions", new { model = "lm", messages, max_tokens = 6, temperature = 0 });
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var body = await ServerHarness.Json(response);

        using var generator = OrtTextGenerator.FromPretrained(models.LanguageModel);
        var expected = generator.Generate("<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHello<|im_end|>\n<|im_start|>assistant\n", generator.GenerationConfig with { MaxNewTokens = 6, DoSample = false });
        Assert.Equal(expected.Text, (string?)body["choices"]![0]!["message"]!["content"]);
        Assert.Equal(expected.PromptIds.Count, (int)body["usage"]!["prompt_tokens"]!);

        // The template's own refusal is the client's 400, with the template's message.
        using var refused = await h.PostJson("/v1/chat/completions", new { model = "lm", messages = new object[] { new { role = "user", content = "Hello" } }, max_tokens = 2 });
        Assert.Equal(HttpStatusCode.BadRequest, refused.StatusCode);
        var error = (await ServerHarness.Json(refused))["error"]!;
        Assert.Contains("the first message must be the system message", (string?)error["message"]);
        Assert.Equal("messages", (string?)error["param"]);
    }

    [Fact]
    public async Task A_chat_template_that_does_not_parse_fails_the_model_load_naming_file_and_line()
    {
        using var temp = new TempDirectory("tessera-serve-chat-");
        string folder = CopyWithTemplate(models.LanguageModel, Path.Combine(temp.Path, "lm"), jinjaFile: false);
        string configPath = Path.Combine(folder, "tokenizer_config.json");
        var config = JsonNode.Parse(File.ReadAllText(configPath))!.AsObject();
        config["chat_template"] = "{% for m in messages %}\n{{ m.content | nosuchfilter }}{% endfor %}";
        File.WriteAllText(configPath, config.ToJsonString());
        var server = new TesseraServer(new ServerOptions { Host = "127.0.0.1", Port = 0 }, [new ServedModel("lm", folder)]);
        await using (server)
        {
            await server.StartAsync();
            var e = await Assert.ThrowsAsync<AggregateException>(server.WaitUntilReadyAsync);
            Assert.Contains("tokenizer_config.json: chat_template line 2: no filter named 'nosuchfilter'", e.InnerExceptions[0].Message);
        }
    }
}
