using System.Text.Json;
using Tessera.Formats;

namespace Tessera.Text.Templates;

/// <summary>
/// A model's chat template: the Jinja2 template that turns a conversation into the prompt text the model was trained
/// on, read from <c>chat_template.jinja</c> (how newer transformers save it) or from the <c>chat_template</c> field of
/// <c>tokenizer_config.json</c> (a string, or a list of <c>{"name", "template"}</c> objects). Rendered with the same
/// variables transformers' <c>apply_chat_template</c> passes: <c>messages</c>, <c>add_generation_prompt</c>,
/// <c>tools</c> and <c>documents</c> (None), the special tokens (<c>bos_token</c>, <c>eos_token</c>, ...) and the
/// functions <c>raise_exception</c> and <c>strftime_now</c>.
/// </summary>
/// <example><code>
/// var template = ChatTemplate.Load("runs/lm/model") ?? throw new InvalidOperationException("no chat template");
/// string prompt = template.Render([new ChatMessage("user", "Hello")]);
/// </code></example>
public sealed class ChatTemplate
{
    /// <summary>The file name newer transformers versions save the template in, beside tokenizer_config.json.</summary>
    public const string JinjaFileName = "chat_template.jinja";

    /// <summary>Wraps a parsed template with the special tokens it may print.</summary>
    public ChatTemplate(JinjaTemplate template, IReadOnlyDictionary<string, string>? specialTokens = null)
    {
        Template = template ?? throw new ArgumentNullException(nameof(template));
        SpecialTokens = specialTokens ?? new Dictionary<string, string>();
    }

    /// <summary>The parsed template.</summary>
    public JinjaTemplate Template { get; }

    /// <summary>The special tokens passed to the template by name (<c>bos_token</c>, <c>eos_token</c>, <c>pad_token</c>, <c>unk_token</c>).</summary>
    public IReadOnlyDictionary<string, string> SpecialTokens { get; }

    /// <summary>
    /// Reads the chat template of a tokenizer folder: <c>chat_template.jinja</c> if present, else the <c>chat_template</c>
    /// field of <c>tokenizer_config.json</c>; null when there is none. From a list of named templates it takes
    /// <paramref name="name"/> (by default the one named <c>default</c>, or the only one).
    /// </summary>
    /// <exception cref="TemplateException">The template does not parse; the message names the file and line.</exception>
    /// <exception cref="TesseraFormatException">tokenizer_config.json is not valid JSON, its chat_template field has the wrong shape, or <paramref name="name"/> is not among its templates.</exception>
    public static ChatTemplate? Load(string folder, string? name = null, TemplateOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(folder);
        var config = TokenizerConfig.Load(folder);
        var specials = new Dictionary<string, string>();
        if (config.BosToken is string bos) specials["bos_token"] = bos;
        if (config.EosToken is string eos) specials["eos_token"] = eos;
        if (config.UnkToken is string unk) specials["unk_token"] = unk;
        if (config.PadToken is string pad) specials["pad_token"] = pad;

        string jinja = Path.Combine(folder, JinjaFileName);
        if (File.Exists(jinja) && name is null)
            return new ChatTemplate(JinjaTemplate.Parse(File.ReadAllText(jinja), jinja, "chat_template", options), specials);

        string configPath = Path.Combine(folder, "tokenizer_config.json");
        if (!File.Exists(configPath)) return null;
        JsonElement field;
        using var document = ParseConfig(configPath);
        if (document.RootElement.ValueKind != JsonValueKind.Object || !document.RootElement.TryGetProperty("chat_template", out field) || field.ValueKind == JsonValueKind.Null)
        {
            if (name is not null) throw new TesseraFormatException(configPath, $"chat_template: there is no template named '{name}' (the file has no chat_template)");
            return null;
        }
        if (field.ValueKind == JsonValueKind.String)
        {
            if (name is not null && name != "default") throw new TesseraFormatException(configPath, $"chat_template: there is no template named '{name}' (the file has a single template)");
            return new ChatTemplate(JinjaTemplate.Parse(field.GetString()!, configPath, "chat_template", options), specials);
        }
        if (field.ValueKind != JsonValueKind.Array)
            throw new TesseraFormatException(configPath, $"chat_template must be a string or a list of {{\"name\", \"template\"}} objects (got {field.ValueKind})");
        var named = new List<(string Name, string Template)>();
        foreach (var item in field.EnumerateArray())
        {
            if (item.ValueKind != JsonValueKind.Object || !item.TryGetProperty("name", out var n) || n.ValueKind != JsonValueKind.String
                || !item.TryGetProperty("template", out var t) || t.ValueKind != JsonValueKind.String)
                throw new TesseraFormatException(configPath, "chat_template: each item of the list must be {\"name\": string, \"template\": string}");
            named.Add((n.GetString()!, t.GetString()!));
        }
        string wanted = name ?? (named.Count == 1 ? named[0].Name : "default");
        var chosen = named.FirstOrDefault(x => x.Name == wanted);
        if (chosen.Template is null)
            throw new TesseraFormatException(configPath, $"chat_template: there is no template named '{wanted}'; the file has {string.Join(", ", named.Select(x => x.Name))}");
        return new ChatTemplate(JinjaTemplate.Parse(chosen.Template, configPath, $"chat_template '{chosen.Name}'", options), specials);
    }

    /// <summary>
    /// The names in the list of named templates of <c>tokenizer_config.json</c>'s <c>chat_template</c> field (e.g.
    /// <c>default</c>, <c>tool_use</c>, <c>rag</c>); empty when the folder has a single template or none.
    /// </summary>
    /// <exception cref="TesseraFormatException">tokenizer_config.json is not valid JSON.</exception>
    public static IReadOnlyList<string> TemplateNames(string folder)
    {
        ArgumentNullException.ThrowIfNull(folder);
        string configPath = Path.Combine(folder, "tokenizer_config.json");
        if (!File.Exists(configPath)) return [];
        using var document = ParseConfig(configPath);
        if (document.RootElement.ValueKind != JsonValueKind.Object || !document.RootElement.TryGetProperty("chat_template", out var field) || field.ValueKind != JsonValueKind.Array)
            return [];
        return [.. field.EnumerateArray()
            .Where(item => item.ValueKind == JsonValueKind.Object && item.TryGetProperty("name", out var n) && n.ValueKind == JsonValueKind.String)
            .Select(item => item.GetProperty("name").GetString()!)];
    }

    static JsonDocument ParseConfig(string path)
    {
        try
        {
            return JsonDocument.Parse(File.ReadAllText(path));
        }
        catch (JsonException e)
        {
            throw new TesseraFormatException(path, $"not valid JSON: {e.Message}", e);
        }
    }

    /// <summary>Renders a conversation as the model's prompt text.</summary>
    /// <param name="messages">The conversation.</param>
    /// <param name="addGenerationPrompt">Whether to end with the start of an assistant turn (what generation wants).</param>
    /// <param name="variables">Extra variables for the template (they override the defaults, e.g. <c>tools</c>).</param>
    /// <exception cref="TemplateException">The template raised an error (e.g. roles that do not alternate) or failed; the message names the file and line.</exception>
    public string Render(IEnumerable<ChatMessage> messages, bool addGenerationPrompt = true, IReadOnlyDictionary<string, object?>? variables = null)
    {
        ArgumentNullException.ThrowIfNull(messages);
        return Render(messages.Select(m => m.ToDictionary()).ToList(), addGenerationPrompt, variables);
    }

    /// <summary>Renders a conversation given as dictionaries (each with <c>role</c>, <c>content</c> and any other fields, e.g. <c>tool_calls</c>).</summary>
    /// <exception cref="TemplateException">The template raised an error or failed; the message names the file and line.</exception>
    public string Render(IReadOnlyList<IReadOnlyDictionary<string, object?>> messages, bool addGenerationPrompt = true, IReadOnlyDictionary<string, object?>? variables = null)
    {
        ArgumentNullException.ThrowIfNull(messages);
        var all = new Dictionary<string, object?>
        {
            ["messages"] = messages,
            ["add_generation_prompt"] = addGenerationPrompt,
            ["tools"] = null,
            ["documents"] = null,
        };
        foreach (var (k, v) in SpecialTokens) all[k] = v;
        if (variables is not null) foreach (var (k, v) in variables) all[k] = v;
        return Template.Render(all);
    }
}
