namespace Tessera.LoadTest.Tests;

public class LatencySummaryTests
{
    /// <summary>The nearest-rank percentile from its definition: the smallest value with at least p% of the values at or below it.</summary>
    static double ByDefinition(double[] values, double p) =>
        values.Where(v => values.Count(x => x <= v) * 100.0 >= p * values.Length).Min();

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(7)]
    [InlineData(100)]
    [InlineData(101)]
    [InlineData(1000)]
    public void Percentiles_match_the_nearest_rank_definition(int n)
    {
        var random = new Random(n);
        double[] seconds = [.. Enumerable.Range(0, n).Select(_ => Math.Round(random.NextDouble(), 3))]; // ties included
        var summary = LatencySummary.Of(seconds)!;
        double[] ms = [.. seconds.Select(s => s * 1000)];
        Assert.Equal(n, summary.Count);
        Assert.Equal(ByDefinition(ms, 50), summary.P50Ms);
        Assert.Equal(ByDefinition(ms, 95), summary.P95Ms);
        Assert.Equal(ByDefinition(ms, 99), summary.P99Ms);
        Assert.Equal(ms.Max(), summary.MaxMs);
        Assert.Equal(ms.Average(), summary.MeanMs, 9);
    }

    [Fact]
    public void Known_values()
    {
        // 1..10 ms: p50 is the 5th value, p95 and p99 the 10th.
        var s = LatencySummary.Of(Enumerable.Range(1, 10).Select(i => i / 1000.0))!;
        Assert.Equal((5.0, 10.0, 10.0), (Math.Round(s.P50Ms, 9), Math.Round(s.P95Ms, 9), Math.Round(s.P99Ms, 9)));
        Assert.Null(LatencySummary.Of([]));
    }

    [Fact]
    public void Level_summary_counts_outcomes_and_uses_only_successes_for_rates_and_latencies()
    {
        RequestResult Ok(double e2e, int tokens, double? ttft, params double[] gaps) => new("200", null, 0, e2e, ttft, gaps, tokens);
        RequestResult[] results =
        [
            Ok(0.5, 10, 0.1, 0.04, 0.05), Ok(0.7, 20, 0.2, 0.06), new("429", "full", 0, 0.001, null, [], 0),
            new("429", "full", 0, 0.001, null, [], 0), new("timeout", "slow", 0, 9, null, [], 0),
        ];
        var level = LevelReport.Summarize("closed", 4, null, results, elapsedSeconds: 2);
        Assert.Equal(5, level.Requests);
        Assert.Equal(2, level.Succeeded);
        Assert.Equal(new Dictionary<string, int> { ["200"] = 2, ["429"] = 2, ["timeout"] = 1 }, level.Outcomes);
        Assert.Equal(1.0, level.RequestsPerSecond);
        Assert.Equal(2.5, level.AnsweredPerSecond);
        Assert.Equal(30, level.OutputTokens);
        Assert.Equal(15.0, level.OutputTokensPerSecond);
        Assert.Equal(3, level.InterTokenLatency!.Count);
        Assert.Equal(700, level.EndToEnd!.MaxMs, 9);  // the 9 s timeout is not a latency of a success
        Assert.Equal(200, level.TimeToFirstToken!.P99Ms, 9);
    }
}
