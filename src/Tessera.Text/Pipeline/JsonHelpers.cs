using System.Text.Json.Nodes;
using Tessera.Formats;

namespace Tessera.Text.Pipeline;

/// <summary>Small readers for tokenizer.json fields that throw <see cref="TesseraFormatException"/> naming the field.</summary>
internal static class JsonHelpers
{
    public static string Type(JsonNode node, string path, string where) =>
        node["type"]?.GetValue<string>() ?? throw new TesseraFormatException(path, $"{where} has no 'type'");

    public static string? Str(JsonNode? node, string name) =>
        node?[name] is JsonValue v && v.TryGetValue(out string? s) ? s : null;

    public static bool Bool(JsonNode? node, string name, bool fallback) =>
        node?[name] is JsonValue v && v.TryGetValue(out bool b) ? b : fallback;

    public static bool? NullableBool(JsonNode? node, string name) =>
        node?[name] is JsonValue v && v.TryGetValue(out bool b) ? b : null;

    public static int Int(JsonNode? node, string name, int fallback) =>
        node?[name] is JsonValue v && v.TryGetValue(out int i) ? i : fallback;

    /// <summary>A string-or-regex pattern object: <c>{"String": "x"}</c> or <c>{"Regex": "x"}</c>.</summary>
    public static (string Pattern, bool IsRegex) Pattern(JsonNode? node, string path, string where)
    {
        if (Str(node, "String") is { } s) return (s, false);
        if (Str(node, "Regex") is { } r) return (r, true);
        throw new TesseraFormatException(path, $"{where}: pattern must be {{\"String\": ...}} or {{\"Regex\": ...}}");
    }

    public static TesseraFormatException Unsupported(string path, string kind, string type, string supported) =>
        new(path, $"{kind} type '{type}' is not supported (supported: {supported})");
}
