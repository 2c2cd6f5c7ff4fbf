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

    /// <summary>The array <paramref name="name"/> of <paramref name="node"/>; an error naming it when it is missing or not an array.</summary>
    public static JsonArray Array(JsonNode node, string name, string path, string where) =>
        node[name] as JsonArray ?? throw new TesseraFormatException(path, $"{where} needs a list '{name}'");

    /// <summary>The integer <paramref name="name"/> of <paramref name="node"/>; an error naming it when it is missing or not an integer.</summary>
    public static int RequiredInt(JsonNode node, string name, string path, string where) =>
        node[name] is JsonValue v && v.TryGetValue(out int i) ? i : throw new TesseraFormatException(path, $"{where} needs an integer '{name}'");

    /// <summary>The string <paramref name="name"/> of <paramref name="node"/>; an error naming it when it is missing or not a string.</summary>
    public static string RequiredStr(JsonNode node, string name, string path, string where) =>
        Str(node, name) ?? throw new TesseraFormatException(path, $"{where} needs a string '{name}'");

    public static TesseraFormatException Unsupported(string path, string kind, string type, string supported) =>
        new(path, $"{kind} type '{type}' is not supported (supported: {supported})");
}
