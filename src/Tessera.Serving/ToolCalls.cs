using System.Text;
using System.Text.Json;

namespace Tessera.Serving;

/// <summary>How a served model writes a tool call in its output (<c>tessera serve --tool-call-parser</c>).</summary>
public enum ToolCallFormat
{
    /// <summary>
    /// Hermes 2 Pro, Qwen2.5, Qwen3 and most ChatML tool models: each call is a JSON object
    /// <c>{"name": ..., "arguments": {...}}</c> between <c>&lt;tool_call&gt;</c> and <c>&lt;/tool_call&gt;</c>; text
    /// outside the blocks is the reply's content. A block left open when the output ends counts when its JSON parses.
    /// </summary>
    Hermes,

    /// <summary>
    /// Llama 3.1/3.2 JSON tool calls: the whole output (optionally after <c>&lt;|python_tag|&gt;</c>) is one JSON object
    /// <c>{"name": ..., "parameters": {...}}</c> (or <c>"arguments"</c>), or several separated by <c>;</c>.
    /// </summary>
    Llama3Json,

    /// <summary>Never parse tool calls: the output is always plain content.</summary>
    None,
}

/// <summary>One parsed tool call: the function's name and its arguments as JSON text (OpenAI's <c>function.arguments</c>).</summary>
/// <param name="Id">The call's id (<c>call_</c> and 24 hex digits).</param>
/// <param name="Name">The function's name.</param>
/// <param name="Arguments">The arguments as a JSON string, as the model wrote them.</param>
internal sealed record ToolCall(string Id, string Name, string Arguments)
{
    public static string NewId() => "call_" + Guid.NewGuid().ToString("N")[..24];

    /// <summary>The call from a model's JSON object: <c>name</c> and <c>arguments</c> (or <c>parameters</c>); null when it is not one.</summary>
    public static ToolCall? FromJson(string json)
    {
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(json);
        }
        catch (JsonException)
        {
            return null;
        }
        using (document)
        {
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("name", out var name) || name.ValueKind != JsonValueKind.String || name.GetString()!.Length == 0)
                return null;
            string arguments = "{}";
            if (root.TryGetProperty("arguments", out var a) || root.TryGetProperty("parameters", out a))
                arguments = a.ValueKind switch
                {
                    JsonValueKind.String => a.GetString()!,   // some models write the arguments already as a JSON string
                    JsonValueKind.Null => "{}",
                    _ => a.GetRawText(),
                };
            return new ToolCall(NewId(), name.GetString()!, arguments);
        }
    }
}

/// <summary>A piece of parsed output: content text or one tool call.</summary>
/// <param name="Content">Content text, or null for a call.</param>
/// <param name="Call">The call, or null for content.</param>
/// <param name="Index">The call's place among the reply's calls (0, 1, ...).</param>
internal readonly record struct ToolCallPiece(string? Content, ToolCall? Call, int Index = 0);

/// <summary>
/// Splits a model's output, as it arrives token by token, into content and tool calls in one <see cref="ToolCallFormat"/>.
/// Text that may start a call is held back until it is known; whitespace between calls is dropped. Output without any
/// call comes out unchanged, character for character.
/// </summary>
internal sealed class ToolCallParser(ToolCallFormat format)
{
    const string Open = "<tool_call>", Close = "</tool_call>", PythonTag = "<|python_tag|>";

    readonly StringBuilder buffer = new();   // text not yet given out
    string pendingSpace = "";                // whitespace held until we know whether a call follows
    string spaceBeforeCall = "";             // whitespace dropped before an open block, given back if it is no call
    bool inCall, afterCall, decided, holdingAll;

    /// <summary>How many calls have been given out.</summary>
    public int Calls { get; private set; }

    /// <summary>Feeds new output text; returns what can be given out now.</summary>
    public List<ToolCallPiece> Feed(string text)
    {
        buffer.Append(text);
        var pieces = new List<ToolCallPiece>();
        if (format == ToolCallFormat.None)
        {
            if (buffer.Length > 0) pieces.Add(new ToolCallPiece(Take(buffer.Length), null));
            return pieces;
        }
        if (format == ToolCallFormat.Llama3Json)
        {
            FeedLlama3(pieces);
            return pieces;
        }
        while (true)
        {
            string s = buffer.ToString();
            if (inCall)
            {
                int end = s.IndexOf(Close, StringComparison.Ordinal);
                if (end < 0) break;
                string json = s[..end];
                Take(end + Close.Length);
                inCall = false;
                if (ToolCall.FromJson(json.Trim()) is { } call)
                {
                    spaceBeforeCall = "";
                    afterCall = true;
                    pieces.Add(new ToolCallPiece(null, call, Calls++));
                }
                else
                {
                    string asWritten = spaceBeforeCall + Open + json + Close; // not a call after all: the model's text as it was
                    spaceBeforeCall = "";
                    Content(pieces, asWritten);
                }
                continue;
            }
            int open = s.IndexOf(Open, StringComparison.Ordinal);
            if (open >= 0)
            {
                Content(pieces, Take(open), beforeCall: true);
                Take(Open.Length);
                inCall = true;
                continue;
            }
            // Hold back a tail that may be the start of "<tool_call>".
            int keep = 0;
            for (int n = Math.Min(Open.Length - 1, s.Length); n > 0; n--)
                if (Open.StartsWith(s[^n..], StringComparison.Ordinal)) { keep = n; break; }
            Content(pieces, Take(s.Length - keep));
            break;
        }
        return pieces;
    }

    /// <summary>Ends the output: gives out what was held back (an open block whose JSON parses is a call).</summary>
    public List<ToolCallPiece> Finish()
    {
        var pieces = new List<ToolCallPiece>();
        string rest = Take(buffer.Length);
        if (format == ToolCallFormat.Llama3Json)
        {
            if (holdingAll && ParseLlama3(rest) is { } calls)
            {
                foreach (var c in calls) pieces.Add(new ToolCallPiece(null, c, Calls++));
                return pieces;
            }
            if (pendingSpace.Length > 0) pieces.Add(new ToolCallPiece(pendingSpace, null));
            if (rest.Length > 0) pieces.Add(new ToolCallPiece(rest, null));
            pendingSpace = "";
            return pieces;
        }
        if (inCall)
        {
            inCall = false;
            if (ToolCall.FromJson(rest.Trim()) is { } call)
            {
                pieces.Add(new ToolCallPiece(null, call, Calls++));
                return pieces;
            }
            rest = spaceBeforeCall + Open + rest; // not a call after all: the model's text as it was
            spaceBeforeCall = "";
        }
        string text;
        if (Calls == 0) text = pendingSpace + rest;  // no call: the output unchanged
        else text = (pendingSpace + (afterCall ? rest.TrimStart() : rest)).TrimEnd();
        pendingSpace = "";
        if (text.Length > 0) pieces.Add(new ToolCallPiece(text, null));
        return pieces;
    }

    void FeedLlama3(List<ToolCallPiece> pieces)
    {
        if (!decided)
        {
            string s = buffer.ToString();
            string trimmed = s.TrimStart();
            if (trimmed.Length == 0) return;
            if (trimmed[0] == '{' || trimmed.StartsWith(PythonTag, StringComparison.Ordinal)) { decided = true; holdingAll = true; return; }
            if (PythonTag.StartsWith(trimmed, StringComparison.Ordinal)) return; // may still become the tag
            decided = true;
        }
        if (!holdingAll) pieces.Add(new ToolCallPiece(Take(buffer.Length), null));
    }

    static List<ToolCall>? ParseLlama3(string text)
    {
        string s = text.Trim();
        if (s.StartsWith(PythonTag, StringComparison.Ordinal)) s = s[PythonTag.Length..].Trim();
        var calls = new List<ToolCall>();
        foreach (string part in SplitTopLevel(s))
        {
            if (ToolCall.FromJson(part) is not { } call) return null;
            calls.Add(call);
        }
        return calls.Count > 0 ? calls : null;
    }

    /// <summary>Splits at the semicolons outside JSON strings and brackets.</summary>
    static IEnumerable<string> SplitTopLevel(string s)
    {
        int depth = 0, start = 0;
        bool inString = false, escaped = false;
        for (int i = 0; i < s.Length; i++)
        {
            char c = s[i];
            if (inString)
            {
                if (escaped) escaped = false;
                else if (c == '\\') escaped = true;
                else if (c == '"') inString = false;
                continue;
            }
            if (c == '"') inString = true;
            else if (c is '{' or '[') depth++;
            else if (c is '}' or ']') depth--;
            else if (c == ';' && depth == 0)
            {
                if (s[start..i].Trim().Length > 0) yield return s[start..i].Trim();
                start = i + 1;
            }
        }
        if (s[start..].Trim().Length > 0) yield return s[start..].Trim();
    }

    /// <summary>Gives out content, holding trailing whitespace (and dropping whitespace next to a call).</summary>
    void Content(List<ToolCallPiece> pieces, string text, bool beforeCall = false)
    {
        if (afterCall)
        {
            text = text.TrimStart();
            if (text.Length == 0) return;
            afterCall = false;
        }
        string all = pendingSpace + text;
        int end = all.Length;
        while (end > 0 && char.IsWhiteSpace(all[end - 1])) end--;
        if (beforeCall)
        {
            spaceBeforeCall = all[end..];
            pendingSpace = "";
        }
        else pendingSpace = all[end..];
        if (end > 0) pieces.Add(new ToolCallPiece(all[..end], null));
    }

    string Take(int count)
    {
        string taken = buffer.ToString(0, count);
        buffer.Remove(0, count);
        return taken;
    }
}

/// <summary>What a chat request asks about tools: the tools to render into the prompt, and whether to parse calls out of the reply.</summary>
/// <param name="Tools">The request's <c>tools</c> (validated), or null.</param>
/// <param name="Render">Whether the template sees the tools (not with <c>tool_choice: "none"</c>).</param>
/// <param name="Parse">Whether the reply is searched for tool calls.</param>
internal sealed record ToolRequest(JsonElement? Tools, bool Render, bool Parse)
{
    public static ToolRequest NoTools { get; } = new(null, false, false);
}

/// <summary>A whole (not streamed) chat reply: content and tool calls parsed from the generated text, and the finish reason.</summary>
internal sealed record ChatReply(string? Content, IReadOnlyList<ToolCall> ToolCalls, string? FinishReason)
{
    /// <summary>Parses <paramref name="text"/> in <paramref name="format"/>; with calls the finish reason is <c>tool_calls</c> and empty content is null.</summary>
    public static ChatReply From(string text, string? finish, ToolCallFormat format)
    {
        var parser = new ToolCallParser(format);
        var pieces = parser.Feed(text);
        pieces.AddRange(parser.Finish());
        var calls = pieces.Where(p => p.Call is not null).Select(p => p.Call!).ToList();
        if (calls.Count == 0) return new ChatReply(text, [], finish);
        string content = string.Concat(pieces.Select(p => p.Content));
        return new ChatReply(content.Length > 0 ? content : null, calls, "tool_calls");
    }

    /// <summary>Writes OpenAI's <c>message</c> object: role, content (null when there is none) and tool_calls when there are any.</summary>
    public void WriteMessage(Utf8JsonWriter w)
    {
        w.WriteStartObject("message");
        w.WriteString("role", "assistant");
        if (Content is null) w.WriteNull("content"); else w.WriteString("content", Content);
        if (ToolCalls.Count > 0)
        {
            w.WriteStartArray("tool_calls");
            foreach (var call in ToolCalls) WriteCall(w, call, index: null);
            w.WriteEndArray();
        }
        w.WriteEndObject();
    }

    /// <summary>One entry of <c>tool_calls</c>: id, type, function {name, arguments}; with <c>index</c> in stream deltas.</summary>
    public static void WriteCall(Utf8JsonWriter w, ToolCall call, int? index)
    {
        w.WriteStartObject();
        if (index is int i) w.WriteNumber("index", i);
        w.WriteString("id", call.Id);
        w.WriteString("type", "function");
        w.WriteStartObject("function");
        w.WriteString("name", call.Name);
        w.WriteString("arguments", call.Arguments);
        w.WriteEndObject();
        w.WriteEndObject();
    }
}
