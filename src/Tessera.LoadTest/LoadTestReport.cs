using System.Text.Json;
using System.Text.Json.Serialization;

namespace Tessera.LoadTest;

/// <summary>A load test's settings and per-level results; <see cref="Save"/> writes <c>report.json</c> and <c>chart.png</c>.</summary>
public sealed record LoadTestReport
{
    /// <summary>The URL as given.</summary>
    public required string Url { get; init; }

    /// <summary>The address every request went to.</summary>
    public required string Endpoint { get; init; }

    /// <summary>The protocol.</summary>
    public required LoadTestMode Mode { get; init; }

    /// <summary>Whether the text requests were streamed (SSE).</summary>
    public required bool Stream { get; init; }

    /// <summary>The model name sent, if any.</summary>
    public string? Model { get; init; }

    /// <summary>The <c>max_tokens</c> of text requests; null for a classifier.</summary>
    public int? MaxTokens { get; init; }

    /// <summary>The classifier's input shape; null for text.</summary>
    public IReadOnlyList<long>? InputShape { get; init; }

    /// <summary>How long each level sent requests, seconds.</summary>
    public required double DurationSeconds { get; init; }

    /// <summary>The request limit per level, if any.</summary>
    public int? MaxRequests { get; init; }

    /// <summary>Outcomes of the uncounted warm-up requests.</summary>
    public required IReadOnlyDictionary<string, int> WarmupOutcomes { get; init; }

    /// <summary>The levels in the order they ran: closed-loop ones, then open-loop ones.</summary>
    public required IReadOnlyList<LevelReport> Levels { get; init; }

    static readonly JsonSerializerOptions json = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.SnakeCaseLower) },
    };

    /// <summary>The report as JSON with snake_case names (the layout of <c>report.json</c>).</summary>
    public string ToJson() => JsonSerializer.Serialize(this, json);

    /// <summary>Reads a report written by <see cref="ToJson"/>.</summary>
    /// <exception cref="JsonException">the text is not such a report.</exception>
    public static LoadTestReport FromJson(string text) =>
        JsonSerializer.Deserialize<LoadTestReport>(text, json) ?? throw new JsonException("the report is JSON null");

    /// <summary>
    /// Writes <c>report.json</c>, <c>chart.png</c> and <c>requests.jsonl</c> (one line per request: its level's index
    /// in <see cref="Levels"/> and its <see cref="RequestResult"/>) into <paramref name="folder"/>, created if missing;
    /// returns the report's and the chart's paths.
    /// </summary>
    public (string Report, string Chart) Save(string folder)
    {
        Directory.CreateDirectory(folder);
        string report = Path.Combine(folder, "report.json"), chart = Path.Combine(folder, "chart.png");
        File.WriteAllText(report, ToJson());
        LoadTestChart.Save(this, chart);
        using (var lines = new StreamWriter(Path.Combine(folder, "requests.jsonl")))
        {
            var compact = new JsonSerializerOptions(json) { WriteIndented = false };
            for (int i = 0; i < Levels.Count; i++)
                foreach (var r in Levels[i].Results)
                    lines.WriteLine(JsonSerializer.Serialize(new { level = i, request = r }, compact));
        }
        return (report, chart);
    }
}
