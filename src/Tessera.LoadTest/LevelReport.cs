using System.Text.Json.Serialization;

namespace Tessera.LoadTest;

/// <summary>
/// One load level's results. Throughput and latencies count successful requests only (a 429 answered in a
/// millisecond would flatter both); every request, successful or not, is in <see cref="Outcomes"/>.
/// </summary>
public sealed record LevelReport
{
    /// <summary><c>closed</c> (a fixed number of clients) or <c>open</c> (a fixed arrival rate).</summary>
    public required string Loop { get; init; }

    /// <summary>Clients of a closed-loop level; for an open-loop level, the most requests that were in flight at once.</summary>
    public required int Concurrency { get; init; }

    /// <summary>Arrival rate of an open-loop level, requests/s; null for a closed-loop level.</summary>
    public double? RatePerSecond { get; init; }

    /// <summary>Requests sent (all outcomes).</summary>
    public required int Requests { get; init; }

    /// <summary>Requests that got a 200 with a well-formed answer.</summary>
    public required int Succeeded { get; init; }

    /// <summary>From the level's start until its last request ended, seconds.</summary>
    public required double ElapsedSeconds { get; init; }

    /// <summary>Successful requests per second of <see cref="ElapsedSeconds"/>.</summary>
    public required double RequestsPerSecond { get; init; }

    /// <summary>All requests (any outcome) per second of <see cref="ElapsedSeconds"/>.</summary>
    public required double AnsweredPerSecond { get; init; }

    /// <summary>Output tokens of the successful requests.</summary>
    public required long OutputTokens { get; init; }

    /// <summary>Output tokens per second of <see cref="ElapsedSeconds"/> (0 for a classifier).</summary>
    public required double OutputTokensPerSecond { get; init; }

    /// <summary>Time to first token of the successful streamed requests; null without streaming.</summary>
    public LatencySummary? TimeToFirstToken { get; init; }

    /// <summary>Gaps between successive output chunks of the successful streamed requests; null without streaming.</summary>
    public LatencySummary? InterTokenLatency { get; init; }

    /// <summary>Request start to end of the response body, successful requests.</summary>
    public LatencySummary? EndToEnd { get; init; }

    /// <summary>Requests per outcome: status codes as text (<c>200</c>, <c>429</c>) and <c>timeout</c>, <c>connection_error</c>, <c>bad_response</c>.</summary>
    public required IReadOnlyDictionary<string, int> Outcomes { get; init; }

    /// <summary>The first few failures' explanations, for the report reader.</summary>
    public required IReadOnlyList<string> FailureSamples { get; init; }

    /// <summary>Every request of the level, in the order they ended (written to <c>requests.jsonl</c>, not to <c>report.json</c>).</summary>
    [JsonIgnore]
    public IReadOnlyList<RequestResult> Results { get; init; } = [];

    /// <summary>Summarizes <paramref name="results"/> of one level.</summary>
    public static LevelReport Summarize(string loop, int concurrency, double? rate, IReadOnlyCollection<RequestResult> results, double elapsedSeconds)
    {
        var ok = results.Where(r => r.Succeeded).ToList();
        long tokens = ok.Sum(r => (long)r.OutputTokens);
        double elapsed = Math.Max(elapsedSeconds, 1e-9);
        return new LevelReport
        {
            Loop = loop,
            Concurrency = concurrency,
            RatePerSecond = rate,
            Requests = results.Count,
            Succeeded = ok.Count,
            ElapsedSeconds = elapsedSeconds,
            RequestsPerSecond = ok.Count / elapsed,
            AnsweredPerSecond = results.Count / elapsed,
            OutputTokens = tokens,
            OutputTokensPerSecond = tokens / elapsed,
            TimeToFirstToken = LatencySummary.Of(ok.Where(r => r.TimeToFirstTokenSeconds.HasValue).Select(r => r.TimeToFirstTokenSeconds!.Value)),
            InterTokenLatency = LatencySummary.Of(ok.SelectMany(r => r.InterTokenSeconds)),
            EndToEnd = LatencySummary.Of(ok.Select(r => r.EndToEndSeconds)),
            Outcomes = results.GroupBy(r => r.Outcome).OrderBy(g => g.Key, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.Count()),
            FailureSamples = [.. results.Where(r => !r.Succeeded).Select(r => $"{r.Outcome}: {r.Detail}").Distinct().Take(5)],
            Results = [.. results],
        };
    }
}
