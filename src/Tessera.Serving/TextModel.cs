using System.Text;
using System.Text.Json;
using Tessera.Text;
using Tessera.Text.Generation;
using Tessera.Text.Templates;

namespace Tessera.Serving;

/// <summary>A served text model: its decoder, tokenizer, generation defaults and scheduler.</summary>
internal sealed class TextModel : IDisposable
{
    public TextModel(string name, IServingDecoder decoder, HfTokenizer tokenizer, GenerationConfig defaults, ServerOptions options, ServingMetrics.ModelMetrics metrics, ChatTemplate? chatTemplate = null, ChatTemplate? toolTemplate = null)
    {
        Name = name;
        ChatTemplate = chatTemplate;
        ToolTemplate = toolTemplate;
        Decoder = decoder;
        Tokenizer = tokenizer;
        IReadOnlyList<int> eos = defaults.EosTokenId is null or { ValueKind: JsonValueKind.Null }
            ? (decoder.SpecialTokenIds.EosTokenIds.Count > 0 ? decoder.SpecialTokenIds.EosTokenIds : tokenizer.EosTokenId is int e ? [e] : [])
            : defaults.EosTokenIds;
        BosTokenId = defaults.BosTokenId ?? decoder.SpecialTokenIds.BosTokenId ?? tokenizer.BosTokenId;
        Scheduler = new GenerationScheduler(name, decoder, tokenizer, eos, options.MaxBatch, options.MaxQueue, metrics);
        metrics.Running = () => Scheduler.Running;
        metrics.Waiting = () => Scheduler.Waiting;
    }

    public string Name { get; }
    public IServingDecoder Decoder { get; }
    public HfTokenizer Tokenizer { get; }
    public int? BosTokenId { get; }
    public GenerationScheduler Scheduler { get; }

    /// <summary>The model's chat template (chat_template.jinja or tokenizer_config.json); null for the plain format.</summary>
    public ChatTemplate? ChatTemplate { get; }

    /// <summary>The template named <c>tool_use</c> in tokenizer_config.json's list of named templates, used for requests with tools; null when there is none.</summary>
    public ChatTemplate? ToolTemplate { get; }

    /// <summary>The prompt's ids (BOS alone for an empty prompt).</summary>
    public IReadOnlyList<int> Encode(string prompt)
    {
        IReadOnlyList<int> ids = Tokenizer.Encode(prompt).Ids;
        if (ids.Count > 0) return ids;
        return BosTokenId is int bos ? [bos] : throw ApiError.BadRequest("the prompt encodes to no tokens and the model has no bos_token_id to start from", "prompt");
    }

    /// <summary>
    /// The chat prompt's ids. With a chat template: the rendered template (messages, add_generation_prompt = true, the
    /// request's tools), encoded without adding special tokens, since the template writes them itself (as
    /// transformers' apply_chat_template does); with tools, the <c>tool_use</c> template when the model has one.
    /// Without a template: <see cref="FormatChat"/>, encoded like a prompt (and tools are refused: the plain format has
    /// no place for them).
    /// </summary>
    public IReadOnlyList<int> EncodeChat(IReadOnlyList<IReadOnlyDictionary<string, object?>> messages, JsonElement? tools)
    {
        var template = tools is not null && ToolTemplate is not null ? ToolTemplate : ChatTemplate;
        if (template is null)
        {
            if (tools is not null) throw ApiError.BadRequest($"model {Name} has no chat template (chat_template.jinja or tokenizer_config.json), so it cannot be told about tools", "tools");
            return Encode(FormatChat(messages));
        }
        string text;
        try
        {
            text = template.Render(messages, addGenerationPrompt: true, tools is JsonElement t ? new Dictionary<string, object?> { ["tools"] = t } : null);
        }
        catch (TemplateException e)
        {
            throw ApiError.BadRequest($"the model's chat template refused the messages: {e.Message}", "messages");
        }
        IReadOnlyList<int> ids = Tokenizer.Encode(text, addSpecialTokens: false).Ids;
        if (ids.Count > 0) return ids;
        return BosTokenId is int bos ? [bos] : throw ApiError.BadRequest("the chat template renders to no tokens and the model has no bos_token_id to start from", "messages");
    }

    /// <summary>
    /// The plain chat prompt for models without a chat template: each message as <c>role: content</c> on its own line,
    /// then <c>assistant:</c> for the reply.
    /// </summary>
    public static string FormatChat(IReadOnlyList<IReadOnlyDictionary<string, object?>> messages)
    {
        var text = new StringBuilder();
        foreach (var message in messages) text.Append(message["role"]).Append(": ").Append(message["content"]).Append('\n');
        return text.Append("assistant:").ToString();
    }

    public void Dispose()
    {
        Scheduler.Dispose();
        Decoder.Dispose();
    }
}
