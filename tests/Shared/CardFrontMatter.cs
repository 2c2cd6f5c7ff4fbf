using System.Text.Json;

namespace Tessera.Tests.Shared;

/// <summary>Reads a model card's README.md with PyYAML (an independent YAML reader): the front matter as JSON, and the body.</summary>
internal static class CardFrontMatter
{
    const string Reader = """
        import json, sys, yaml
        text = open(sys.argv[1], encoding="utf-8").read()
        assert text.startswith("---\n"), "no front matter"
        front, body = text[4:].split("\n---\n", 1)
        print(json.dumps({"front": yaml.safe_load(front), "body": body}))
        """;

    /// <summary>The card as <c>{"front": ..., "body": ...}</c>; skips the test when PyYAML is missing.</summary>
    public static JsonElement Read(string path)
    {
        Requires.Python("yaml");
        return JsonDocument.Parse(ReferencePython.Run(Reader, path)).RootElement;
    }

    /// <summary>The first result of the front matter's <c>model-index</c>, checking there is exactly one model with one result.</summary>
    public static JsonElement ModelIndexResult(string path, out string modelName)
    {
        var index = Read(path).GetProperty("front").GetProperty("model-index");
        Assert.Equal(1, index.GetArrayLength());
        modelName = index[0].GetProperty("name").GetString()!;
        var results = index[0].GetProperty("results");
        Assert.Equal(1, results.GetArrayLength());
        return results[0];
    }

    /// <summary>The metrics of a model-index result by type: value and display name.</summary>
    public static Dictionary<string, (double Value, string Name)> Metrics(JsonElement result) =>
        result.GetProperty("metrics").EnumerateArray().ToDictionary(m => m.GetProperty("type").GetString()!,
            m => (m.GetProperty("value").GetDouble(), m.GetProperty("name").GetString()!));
}
