using System.CommandLine;
using Tessera.Adapters;
using Tessera.Hub;
using Tessera.Runtime.Generation;
using Tessera.Text;
using Tessera.Text.Generation;
using Tessera.Text.Templates;
using Tessera.Transformers;

namespace Tessera.Cli;

static class GenerateCommand
{
    public static Command Create()
    {
        var model = new Argument<string>("model") { Description = "Model folder (config.json, safetensors, tokenizer), a folder from tessera export (model.onnx + tokenizer; runs in ONNX Runtime), or hub repository org/name[@revision]" };
        var prompt = new Option<string?>("--prompt") { Description = "Text to continue (required unless --chat reads a conversation from stdin)" };
        var maxNewTokens = new Option<int>("--max-new-tokens") { Description = "Most tokens to generate", DefaultValueFactory = _ => 40 };
        var temperature = new Option<double?>("--temperature") { Description = "Sampling temperature (turns sampling on) [default: generation_config.json, else 1]" };
        var topK = new Option<int?>("--top-k") { Description = "Sample among the k most likely tokens, 0 = all (turns sampling on) [default: generation_config.json, else 50]" };
        var topP = new Option<double?>("--top-p") { Description = "Nucleus sampling probability mass (turns sampling on) [default: generation_config.json, else 1]" };
        var repetitionPenalty = new Option<double?>("--repetition-penalty") { Description = "Penalty on tokens already seen, 1 = none [default: generation_config.json, else 1]" };
        var seed = new Option<long?>("--seed") { Description = "Seed for reproducible sampling [default: generation_config.json, else random]" };
        var stop = new Option<string[]>("--stop") { Description = "Stop when the text reaches one of these strings", AllowMultipleArgumentsPerToken = true };
        var greedy = new Option<bool>("--greedy") { Description = "Always take the most likely token (overrides the sampling options)" };
        var stream = new Option<bool>("--stream") { Description = "Print the text piece by piece as it is generated" };
        var truncatePrompt = new Option<bool>("--truncate-prompt") { Description = "Keep only the last tokens of a prompt too long for the model's context, so that prompt + max-new-tokens fits" };
        var adapter = new Option<string?>("--adapter") { Description = "LoRA adapter folder (PEFT layout) to apply to the model" };
        var chat = new Option<bool>("--chat") { Description = "Send --prompt as one user message through the model's chat template (chat_template.jinja or tokenizer_config.json; without one: \"user: PROMPT\\nassistant:\") and print only the reply. Without --prompt: a conversation, one user message per line of stdin, each reply printed on its own line; /reset starts over, end of input (Ctrl+D) ends" };
        var command = new Command("generate", "Continue a prompt with a causal language model (GPT-2, Llama family); prints the prompt and its completion")
        {
            model, prompt, maxNewTokens, temperature, topK, topP, repetitionPenalty, seed, stop, greedy, stream, truncatePrompt, adapter, chat,
        };
        command.SetAction(async (parse, cancel) =>
        {
            string folder;
            using (var hub = new HubClient(HubOptions.FromEnvironment()))
            {
                try
                {
                    folder = await hub.GetModelFolderAsync(parse.GetValue(model)!, cancellationToken: cancel);
                }
                catch (HubException e)
                {
                    throw new HubException($"{parse.GetValue(model)} is not a local folder, so it was looked up on the Hub as a repository id: {e.Message}",
                        e.RepoId, e.Revision, e.Filename, e.StatusCode, e);
                }
            }
            GenerationConfig config = GenerationConfig.Load(folder) with { MaxNewTokens = parse.GetValue(maxNewTokens) };
            bool sampling = config.DoSample;
            if (parse.GetValue(temperature) is double t) { config = config with { Temperature = t }; sampling = true; }
            if (parse.GetValue(topK) is int k) { config = config with { TopK = k }; sampling = true; }
            if (parse.GetValue(topP) is double p) { config = config with { TopP = p }; sampling = true; }
            if (parse.GetValue(repetitionPenalty) is double r) config = config with { RepetitionPenalty = r };
            if (parse.GetValue(seed) is long s) config = config with { Seed = s };
            if (parse.GetValue(stop) is { Length: > 0 } stops) config = config with { StopStrings = stops };
            if (parse.GetValue(truncatePrompt)) config = config with { TruncatePrompt = true };
            config = config with { DoSample = sampling && !parse.GetValue(greedy) };
            config.Validate();

            var output = parse.InvocationConfiguration.Output;
            bool streamed = parse.GetValue(stream);
            bool asChat = parse.GetValue(chat);
            string? given = parse.GetValue(prompt);
            if (given is null && !asChat) throw new UsageException("give --prompt TEXT (or --chat to read a conversation from stdin)");
            if (given is null)
            {
                if (OrtTextGenerator.IsDecoderFolder(folder))
                {
                    using var ort = OrtTextGenerator.FromPretrained(folder);
                    await Conversation(folder, ort.Model, ort.Tokenizer, config, streamed, Console.In, output, parse.InvocationConfiguration.Error, cancel);
                }
                else
                {
                    HfTokenizer chatTokenizer = AutoTokenizer.FromPretrained(folder);
                    using CausalLanguageModel chatLm = AutoModelForCausalLM.FromPretrained(folder);
                    if (parse.GetValue(adapter) is { } chatAdapter) LoraModel.FromPretrained(chatLm, chatAdapter);
                    await Conversation(folder, new TorchCausalLM(chatLm), chatTokenizer, config, streamed, Console.In, output, parse.InvocationConfiguration.Error, cancel);
                }
                return 0;
            }
            string text = given;
            if (OrtTextGenerator.IsDecoderFolder(folder))
            {
                using var generator = OrtTextGenerator.FromPretrained(folder);
                if (asChat) text = ChatPrompt(folder, generator.Tokenizer, text);
                else output.Write(text);
                await Complete(generator.Model, generator.Tokenizer, text, config, streamed, output, cancel);
            }
            else
            {
                HfTokenizer tokenizer = AutoTokenizer.FromPretrained(folder);
                using CausalLanguageModel lm = AutoModelForCausalLM.FromPretrained(folder);
                if (parse.GetValue(adapter) is { } adapterFolder) LoraModel.FromPretrained(lm, adapterFolder);
                if (asChat) text = ChatPrompt(folder, tokenizer, text);
                else output.Write(text);
                await Complete(new TorchCausalLM(lm), tokenizer, text, config, streamed, output, cancel);
            }
            output.WriteLine();
            return 0;
        });
        return command;
    }

    /// <summary>The prompt for <paramref name="message"/> as the one user message of a conversation, through the folder's chat template if it has one.</summary>
    static string ChatPrompt(string folder, HfTokenizer tokenizer, string message) =>
        ChatPrompt(ChatTemplate.Load(folder), tokenizer, [new ChatMessage("user", message)]);

    /// <summary>
    /// The prompt for a conversation: the chat template with the generation prompt, or without a template each message
    /// as <c>role: content</c> on its own line and then <c>assistant:</c> (what <c>tessera serve</c> does too).
    /// </summary>
    static string ChatPrompt(ChatTemplate? template, HfTokenizer tokenizer, IReadOnlyList<ChatMessage> messages)
    {
        if (template is null) return string.Concat(messages.Select(m => $"{m.Role}: {m.Content}\n")) + "assistant:";
        string text = template.Render(messages);
        // Generation encodes the prompt with the tokenizer's special tokens; a template that writes the BOS token itself
        // would get it twice (transformers encodes rendered chats without special tokens instead).
        if (tokenizer.Config.BosToken is string bos && text.StartsWith(bos, StringComparison.Ordinal)
            && tokenizer.BosTokenId is int bosId && tokenizer.Encode("").Ids is [int first, ..] && first == bosId)
            text = text[bos.Length..];
        return text;
    }

    /// <summary>
    /// A conversation read from <paramref name="input"/>: each line is a user message; the whole conversation is rendered
    /// through the chat template again and generated from, and the reply printed on its own line and kept as the
    /// assistant's turn. <c>/reset</c> forgets the conversation; the end of input ends it. Each turn prefills the whole
    /// conversation again (the KV cache of the previous turn is not reused: the generation API starts from text).
    /// </summary>
    static async Task Conversation(string folder, ICausalLMBackend backend, HfTokenizer tokenizer, GenerationConfig config, bool stream,
        TextReader input, TextWriter output, TextWriter error, CancellationToken cancel)
    {
        var template = ChatTemplate.Load(folder);
        var messages = new List<ChatMessage>();
        bool interactive = !Console.IsInputRedirected;
        while (!cancel.IsCancellationRequested)
        {
            if (interactive) { error.Write("> "); error.Flush(); }
            string? line = await input.ReadLineAsync(cancel);
            if (line is null) break;
            if (line.Trim() == "/reset")
            {
                messages.Clear();
                error.WriteLine("(conversation reset)");
                continue;
            }
            if (line.Trim().Length == 0) continue;
            messages.Add(new ChatMessage("user", line));
            string prompt = ChatPrompt(template, tokenizer, messages);
            var reply = new System.Text.StringBuilder();
            try
            {
                if (!stream) reply.Append(backend.Generate(tokenizer, prompt, config).Text);
                else
                    await foreach (string piece in backend.GenerateStream(tokenizer, prompt, config, cancel))
                    {
                        reply.Append(piece);
                        output.Write(piece);
                        output.Flush();
                    }
            }
            catch (ArgumentException e)
            {
                // The conversation no longer fits the context: say so and keep it as it was before this message.
                messages.RemoveAt(messages.Count - 1);
                error.WriteLine($"error: {e.Message} (/reset starts a new conversation)");
                continue;
            }
            if (!stream) output.Write(reply.ToString());
            output.WriteLine();
            output.Flush();
            messages.Add(new ChatMessage("assistant", reply.ToString()));
        }
    }

    /// <summary>Writes the completion of <paramref name="prompt"/>, piece by piece when <paramref name="stream"/>.</summary>
    static async Task Complete(ICausalLMBackend backend, HfTokenizer tokenizer, string prompt, GenerationConfig config, bool stream, TextWriter output, CancellationToken cancel)
    {
        if (!stream)
        {
            output.Write(backend.Generate(tokenizer, prompt, config).Text);
            return;
        }
        await foreach (string piece in backend.GenerateStream(tokenizer, prompt, config, cancel))
        {
            output.Write(piece);
            output.Flush();
        }
    }
}
