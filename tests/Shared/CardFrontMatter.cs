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

    /// <summary>A card's model-index with one model and one result, flattened.</summary>
    public sealed record ModelIndexEntry(string Name, string TaskType, string DatasetType, string DatasetName, string? Split,
        Dictionary<string, (double Value, string Name)> Metrics);

    /// <summary>Reads the card's <c>model-index</c> with PyYAML, checking it holds exactly one model with one result.</summary>
    public static ModelIndexEntry ReadModelIndex(string path)
    {
        var index = Read(path).GetProperty("front").GetProperty("model-index");
        Assert.Equal(1, index.GetArrayLength());
        var results = index[0].GetProperty("results");
        Assert.Equal(1, results.GetArrayLength());
        var result = results[0];
        var dataset = result.GetProperty("dataset");
        return new ModelIndexEntry(index[0].GetProperty("name").GetString()!, result.GetProperty("task").GetProperty("type").GetString()!,
            dataset.GetProperty("type").GetString()!, dataset.GetProperty("name").GetString()!,
            dataset.TryGetProperty("split", out var split) ? split.GetString() : null,
            result.GetProperty("metrics").EnumerateArray().ToDictionary(m => m.GetProperty("type").GetString()!,
                m => (m.GetProperty("value").GetDouble(), m.GetProperty("name").GetString()!)));
    }
}
