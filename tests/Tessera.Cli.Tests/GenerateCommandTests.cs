using Tessera.Tests.Shared;
using Tessera.Text;
using Tessera.Text.Generation;
using Tessera.Transformers;

namespace Tessera.Cli.Tests;

/// <summary><c>tessera generate</c> on a tiny random GPT-2 folder (config.json, model.safetensors, tokenizer files, generation_config.json).</summary>
public class GenerateCommandTests : IDisposable
{
    private readonly TempDirectory temp = new("tessera-cli-gen-");
    public void Dispose() => temp.Dispose();

    private static (int Code, string Out, string Err) Run(params string[] args) => CliRunner.Run(args);

    private string TinyModelFolder()
    {
        string folder = Path.Combine(temp.Path, "model");
        TorchSharp.torch.manual_seed(1);
        using var model = new Gpt2LMHeadModel(new Gpt2Config { VocabSize = 50257, NPositions = 64, NEmbd = 16, NLayer = 1, NHead = 2, BosTokenId = 50256 });
        model.SavePretrained(folder);
        Gpt2Vocabulary.WriteTokenizerFiles(folder);
        new GenerationConfig { BosTokenId = 50256, EosTokenId = System.Text.Json.JsonSerializer.SerializeToElement(50256), MaxNewTokens = 5 }.Save(folder);
        return folder;
    }

    [Trait("Category", "Slow")]
    [Fact]
    public void Generate_prints_the_prompt_and_its_completion_streamed_or_not()
    {
        string folder = TinyModelFolder();
        var (code, output, err) = Run("generate", folder, "--prompt", "You will", "--max-new-tokens", "6", "--greedy");
        Assert.True(code == 0, err);
        Assert.StartsWith("You will", output);
        Assert.True(output.TrimEnd('\n').Length > "You will".Length, output);
        var streamed = Run("generate", folder, "--prompt", "You will", "--max-new-tokens", "6", "--greedy", "--stream");
        Assert.True(streamed.Code == 0, streamed.Err);
        Assert.Equal(output, streamed.Out);

        var a = Run("generate", folder, "--prompt", "You will", "--top-p", "0.9", "--temperature", "1.5", "--seed", "3");
        var b = Run("generate", folder, "--prompt", "You will", "--top-p", "0.9", "--temperature", "1.5", "--seed", "3");
        Assert.True(a.Code == 0, a.Err);
        Assert.Equal(a.Out, b.Out);
    }

    [Trait("Category", "Slow")]
    [Fact]
    public void Chat_sends_the_prompt_through_the_models_chat_template_and_prints_the_reply()
    {
        string folder = TinyModelFolder();
        string configPath = Path.Combine(folder, "tokenizer_config.json");
        var config = File.Exists(configPath) ? System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(configPath))!.AsObject() : [];
        config["chat_template"] = "{% for m in messages %}<|{{ m.role }}|>{{ m.content | trim }}\n{% endfor %}{% if add_generation_prompt %}<|assistant|>{% endif %}";
        File.WriteAllText(configPath, config.ToJsonString());

        var (code, output, err) = Run("generate", folder, "--prompt", " Hello ", "--chat", "--max-new-tokens", "5", "--greedy");
        Assert.True(code == 0, err);
        HfTokenizer tokenizer = AutoTokenizer.FromPretrained(folder);
        using var lm = AutoModelForCausalLM.FromPretrained(folder);
        var expected = new TorchCausalLM(lm).Generate(tokenizer, "<|user|>Hello\n<|assistant|>", GenerationConfig.Load(folder) with { MaxNewTokens = 5, DoSample = false });
        Assert.Equal(expected.Text + "\n", output);
    }

    /// <summary>Runs the real CLI as a child process with <paramref name="stdin"/> piped in.</summary>
    private static (int Code, string Out, string Err) RunPiped(string stdin, params string[] args)
    {
        Requires.Linux();
        string dotnet = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } muxer && File.Exists(muxer) ? muxer : "dotnet";
        var info = new System.Diagnostics.ProcessStartInfo(dotnet)
        {
            RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true,
            StandardOutputEncoding = System.Text.Encoding.UTF8, StandardErrorEncoding = System.Text.Encoding.UTF8,
            StandardInputEncoding = new System.Text.UTF8Encoding(false),
        };
        info.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "Tessera.Cli.dll"));
        foreach (string a in args) info.ArgumentList.Add(a);
        info.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        info.Environment["HF_HUB_OFFLINE"] = "1";
        using var process = System.Diagnostics.Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        process.StandardInput.Write(stdin);
        process.StandardInput.Close();
        if (!process.WaitForExit(TimeSpan.FromMinutes(3)))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"tessera {string.Join(' ', args)} did not end within 3 minutes after its input closed: {stderr.Result}");
        }
        process.WaitForExit();
        return (process.ExitCode, stdout.Result, stderr.Result);
    }

    [Trait("Category", "Slow")]
    [Fact]
    public void Chat_without_a_prompt_holds_a_conversation_read_from_stdin_until_its_end()
    {
        string folder = TinyModelFolder();
        string configPath = Path.Combine(folder, "tokenizer_config.json");
        var config = File.Exists(configPath) ? System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(configPath))!.AsObject() : [];
        config["chat_template"] = "{% for m in messages %}<|{{ m.role }}|>{{ m.content | trim }}\n{% endfor %}{% if add_generation_prompt %}<|assistant|>{% endif %}";
        File.WriteAllText(configPath, config.ToJsonString());

        // Two turns, a reset, the first message again; then the end of input ends the command.
        var (code, output, err) = RunPiped("Hello\nHow are you?\n/reset\nHello\n", "generate", folder, "--chat", "--max-new-tokens", "5", "--greedy");
        Assert.True(code == 0, err);

        HfTokenizer tokenizer = AutoTokenizer.FromPretrained(folder);
        using var lm = AutoModelForCausalLM.FromPretrained(folder);
        var backend = new TorchCausalLM(lm);
        var settings = GenerationConfig.Load(folder) with { MaxNewTokens = 5, DoSample = false };
        string first = backend.Generate(tokenizer, "<|user|>Hello\n<|assistant|>", settings).Text;
        // The second turn sees the whole conversation: the first message, the first reply (trimmed by the template), the second message.
        string second = backend.Generate(tokenizer, $"<|user|>Hello\n<|assistant|>{first.Trim()}\n<|user|>How are you?\n<|assistant|>", settings).Text;
        Assert.NotEqual(first, second); // the second reply depends on the conversation, not only on its own message
        Assert.Equal($"{first}\n{second}\n{first}\n", output);
        Assert.Contains("(conversation reset)", err);

        // Without --chat a prompt is required.
        var missing = Run("generate", folder);
        Assert.Equal(2, missing.Code);
        Assert.Contains("--prompt", missing.Err);
    }

    [Trait("Category", "Slow")]
    [Fact]
    public void Bad_settings_and_missing_models_are_one_line_errors()
    {
        var (code, _, err) = Run("generate", Path.Combine(temp.Path, "nope"), "--prompt", "x");
        Assert.NotEqual(0, code);
        Assert.Single(err.Trim().Split('\n'));
        string folder = TinyModelFolder();
        var bad = Run("generate", folder, "--prompt", "x", "--top-p", "2");
        Assert.Equal(2, bad.Code);
        Assert.Contains("top_p", bad.Err);
        Assert.Contains("--max-new-tokens", Run("generate", "--help").Out);
    }

    [Trait("Category", "Slow")]
    [Fact]
    public void Truncate_prompt_keeps_the_end_of_a_prompt_too_long_for_the_context()
    {
        string folder = TinyModelFolder();
        // " the cat" is two GPT-2 tokens: 80 tokens against a context of 64.
        string prompt = string.Concat(Enumerable.Repeat(" the cat", 40));
        var error = Run("generate", folder, "--prompt", prompt, "--max-new-tokens", "6", "--greedy");
        Assert.Equal(2, error.Code);
        Assert.Contains("80 tokens", error.Err);
        Assert.Contains("--truncate-prompt", error.Err);

        var truncated = Run("generate", folder, "--prompt", prompt, "--max-new-tokens", "6", "--greedy", "--truncate-prompt");
        Assert.True(truncated.Code == 0, truncated.Err);
        string kept = string.Concat(Enumerable.Repeat(" the cat", 29)); // the last 58 = 64 - 6 tokens
        var manual = Run("generate", folder, "--prompt", kept, "--max-new-tokens", "6", "--greedy");
        Assert.True(manual.Code == 0, manual.Err);
        Assert.Equal(manual.Out[kept.Length..], truncated.Out[prompt.Length..]);
    }

    [Trait("Category", "Slow")]
    [Fact]
    public void Generate_on_an_exported_folder_runs_in_ONNX_Runtime_and_matches_TorchSharp()
    {
        string folder = TinyModelFolder();
        string onnx = Path.Combine(temp.Path, "lm-onnx");
        Assert.Equal(0, Run("export", folder, "--out", onnx).Code);
        var torch = Run("generate", folder, "--prompt", "You will", "--max-new-tokens", "6", "--greedy");
        var ort = Run("generate", onnx, "--prompt", "You will", "--max-new-tokens", "6", "--greedy");
        Assert.True(ort.Code == 0, ort.Err);
        Assert.Equal(torch.Out, ort.Out);
        var streamed = Run("generate", onnx, "--prompt", "You will", "--max-new-tokens", "6", "--greedy", "--stream");
        Assert.Equal(torch.Out, streamed.Out);
        var sampled = Run("generate", onnx, "--prompt", "You will", "--max-new-tokens", "6", "--top-p", "0.9", "--seed", "3");
        Assert.Equal(sampled.Out, Run("generate", onnx, "--prompt", "You will", "--max-new-tokens", "6", "--top-p", "0.9", "--seed", "3").Out);
    }
}
