using System.Diagnostics;
using System.Text.Json;

namespace Tessera.LoadTest.Tests;

/// <summary>
/// The load generator against <see cref="FakeModelServer"/>. Levels are bounded by a request count (and a duration
/// far above what they need), so the counts are exact; timings are checked for consistency, never against a clock.
/// </summary>
public class LoadTestRunnerTests
{
    static LoadTestOptions Options(Uri url, LoadTestMode mode = LoadTestMode.Completions) => new()
    {
        Url = url,
        Mode = mode,
        Concurrency = [1, 3],
        Duration = TimeSpan.FromSeconds(60),
        MaxRequests = 12,
        WarmupRequests = 1,
        MaxTokens = 5,
        Model = "fake",
        RequestTimeout = TimeSpan.FromSeconds(30),
    };

    static void AssertConsistentStreamTimings(LevelReport level, int maxTokens)
    {
        foreach (var r in level.Results.Where(r => r.Succeeded))
        {
            Assert.NotNull(r.TimeToFirstTokenSeconds);
            Assert.InRange(r.TimeToFirstTokenSeconds!.Value, 0, r.EndToEndSeconds);
            Assert.Equal(maxTokens - 1, r.InterTokenSeconds.Count);
            Assert.All(r.InterTokenSeconds, g => Assert.True(g >= 0));
            // first token time + all gaps is when the last token came, which is no later than the end
            Assert.True(r.TimeToFirstTokenSeconds.Value + r.InterTokenSeconds.Sum() <= r.EndToEndSeconds + 1e-9);
        }
        Assert.True(level.TimeToFirstToken!.P50Ms <= level.TimeToFirstToken.P95Ms && level.TimeToFirstToken.P95Ms <= level.TimeToFirstToken.P99Ms);
        Assert.True(level.TimeToFirstToken.P99Ms <= level.EndToEnd!.MaxMs);
        Assert.Equal(level.Succeeded * (maxTokens - 1), level.InterTokenLatency!.Count);
    }

    [Theory]
    [InlineData(LoadTestMode.Completions, false)]
    [InlineData(LoadTestMode.Completions, true)]
    [InlineData(LoadTestMode.Chat, false)]
    [InlineData(LoadTestMode.Chat, true)]
    public async Task Streamed_levels_count_tokens_and_outcomes_as_the_server_saw_them(LoadTestMode mode, bool crlf)
    {
        await using var server = await FakeModelServer.StartAsync(() => new FakeModelServer { RejectEvery = 4, UseCrLf = crlf });
        var report = await LoadTestRunner.RunAsync(Options(server.Url, mode), cancellationToken: TestContext.Current.CancellationToken);

        // 1 warm-up + 2 levels x 12; the server rejects requests 4, 8, ..., 24 (6 of them), warm-up request 1 succeeds.
        Assert.Equal(25, server.Bodies.Count);
        Assert.Equal(new Dictionary<string, int> { ["200"] = 1 }, report.WarmupOutcomes);
        Assert.Equal(2, report.Levels.Count);
        Assert.Equal(6, report.Levels.Sum(l => l.Outcomes.GetValueOrDefault("429")));
        Assert.Equal(server.StatusCounts[200] - 1, report.Levels.Sum(l => l.Succeeded));
        foreach (var level in report.Levels)
        {
            Assert.Equal(12, level.Requests);
            Assert.Equal(level.Requests, level.Outcomes.Values.Sum());
            Assert.Equal(level.Succeeded, level.Outcomes.GetValueOrDefault("200"));
            Assert.Equal(5L * level.Succeeded, level.OutputTokens);
            Assert.Equal(level.OutputTokens / level.ElapsedSeconds, level.OutputTokensPerSecond, 9);
            Assert.Equal(level.Succeeded / level.ElapsedSeconds, level.RequestsPerSecond, 9);
            AssertConsistentStreamTimings(level, 5);
            Assert.Contains(level.FailureSamples, s => s.StartsWith("429: ", StringComparison.Ordinal) && s.Contains("queue full"));
        }
        Assert.Equal([1, 3], report.Levels.Select(l => l.Concurrency));

        // what the server was sent: the OpenAI fields, stream with usage
        var body = server.Bodies.First();
        Assert.Equal("fake", (string?)body["model"]);
        Assert.Equal(5, (int?)body["max_tokens"]);
        Assert.True((bool?)body["stream"]);
        Assert.True((bool?)body["stream_options"]!["include_usage"]);
        if (mode == LoadTestMode.Chat) Assert.Equal("user", (string?)body["messages"]![0]!["role"]);
        else Assert.NotNull((string?)body["prompt"]);
    }

    [Fact]
    public async Task Without_usage_the_output_tokens_are_the_chunks_with_text()
    {
        await using var server = await FakeModelServer.StartAsync(() => new FakeModelServer { SendUsage = false });
        var report = await LoadTestRunner.RunAsync(Options(server.Url) with { Concurrency = [2], MaxTokens = 7 }, cancellationToken: TestContext.Current.CancellationToken);
        var level = Assert.Single(report.Levels);
        Assert.Equal(12, level.Succeeded);
        Assert.Equal(12 * 7, level.OutputTokens);
        AssertConsistentStreamTimings(level, 7);
    }

    [Fact]
    public async Task Non_streamed_completions_take_tokens_from_usage_and_have_no_ttft()
    {
        await using var server = await FakeModelServer.StartAsync(() => new FakeModelServer { RejectEvery = 5 });
        var report = await LoadTestRunner.RunAsync(Options(server.Url) with { Stream = false, Concurrency = [4], MaxRequests = 20 },
            cancellationToken: TestContext.Current.CancellationToken);
        var level = Assert.Single(report.Levels);
        Assert.False(report.Stream);
        Assert.Equal(new Dictionary<string, int> { ["200"] = 16, ["429"] = 4 }, level.Outcomes); // requests 5..20 after 1 warm-up: 5,10,15,20 -> 4 rejected
        Assert.Equal(16 * 5, level.OutputTokens);
        Assert.Null(level.TimeToFirstToken);
        Assert.Null(level.InterTokenLatency);
        Assert.Equal(16, level.EndToEnd!.Count);
        Assert.False((bool?)server.Bodies.First()["stream"]);
        Assert.Null(server.Bodies.First()["stream_options"]);
    }

    [Fact]
    public async Task A_stream_without_DONE_is_a_bad_response_not_a_success()
    {
        await using var server = await FakeModelServer.StartAsync(() => new FakeModelServer { OmitDone = true });
        var report = await LoadTestRunner.RunAsync(Options(server.Url) with { Concurrency = [2], MaxRequests = 4 }, cancellationToken: TestContext.Current.CancellationToken);
        var level = Assert.Single(report.Levels);
        Assert.Equal(new Dictionary<string, int> { ["bad_response"] = 4 }, level.Outcomes);
        Assert.Equal(0, level.OutputTokens);
        Assert.Contains("[DONE]", level.FailureSamples.Single());
    }

    [Fact]
    public async Task Classifier_mode_asks_for_the_input_name_and_sends_the_shape()
    {
        await using var server = await FakeModelServer.StartAsync();
        var options = Options(server.Url, LoadTestMode.Classifier) with { Model = "fm", InputShape = [2, 1, 28, 28], Concurrency = [1, 8], MaxRequests = 16 };
        var report = await LoadTestRunner.RunAsync(options, cancellationToken: TestContext.Current.CancellationToken);
        Assert.EndsWith("/v2/models/fm/infer", report.Endpoint);
        Assert.All(report.Levels, l => Assert.Equal(new Dictionary<string, int> { ["200"] = 16 }, l.Outcomes));
        Assert.All(report.Levels, l => Assert.Equal(0, l.OutputTokens));
        var input = server.Bodies.First()["inputs"]![0]!;
        Assert.Equal("pixels", (string?)input["name"]); // from GET /v2/models/fm; the fake answers 400 to any other name
        Assert.Equal([2L, 1, 28, 28], input["shape"]!.AsArray().Select(d => (long)d!));
        Assert.Equal(2 * 28 * 28, input["data"]!.AsArray().Count);
    }

    [Fact]
    public async Task Open_loop_sends_what_the_server_answers_and_reports_its_rate()
    {
        await using var server = await FakeModelServer.StartAsync();
        var options = Options(server.Url) with { Concurrency = [], Rates = [400], Duration = TimeSpan.FromSeconds(0.25), MaxRequests = 30, Stream = false, WarmupRequests = 0 };
        var report = await LoadTestRunner.RunAsync(options, cancellationToken: TestContext.Current.CancellationToken);
        var level = Assert.Single(report.Levels);
        Assert.Equal("open", level.Loop);
        Assert.Equal(400, level.RatePerSecond);
        Assert.Equal(server.Bodies.Count, level.Requests);
        Assert.InRange(level.Requests, 1, 30);
        Assert.Equal(level.Requests, level.Succeeded);
        Assert.InRange(level.Concurrency, 1, level.Requests);
        Assert.All(level.Results, r => Assert.InRange(r.StartSeconds, 0, level.ElapsedSeconds));
    }

    [Fact]
    public async Task A_server_that_never_answers_ends_in_timeouts_within_the_bounds()
    {
        await using var server = await FakeModelServer.StartAsync(() => new FakeModelServer { Hang = true });
        var options = Options(server.Url) with
        {
            Concurrency = [3], Duration = TimeSpan.FromSeconds(0.2), MaxRequests = null, WarmupRequests = 0, RequestTimeout = TimeSpan.FromSeconds(0.5),
        };
        var watch = Stopwatch.StartNew();
        var report = await LoadTestRunner.RunAsync(options, cancellationToken: TestContext.Current.CancellationToken);
        var level = Assert.Single(report.Levels);
        // Each client's first request outlives the 0.2 s duration, so each sends exactly one.
        Assert.Equal(new Dictionary<string, int> { ["timeout"] = 3 }, level.Outcomes);
        Assert.Null(level.EndToEnd);
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(20), $"took {watch.Elapsed}"); // bounded: duration + timeout, with room for a loaded machine
    }

    [Fact]
    public async Task Save_writes_a_report_that_reads_back_a_valid_png_and_one_line_per_request()
    {
        await using var server = await FakeModelServer.StartAsync(() => new FakeModelServer { RejectEvery = 3 });
        var report = await LoadTestRunner.RunAsync(Options(server.Url) with { Concurrency = [1, 2, 4] }, cancellationToken: TestContext.Current.CancellationToken);
        using var temp = new TempDirectory();
        var (json, chart) = report.Save(Path.Combine(temp.Path, "out"));

        var back = LoadTestReport.FromJson(File.ReadAllText(json));
        Assert.Equal(report.Levels.Select(l => (l.Requests, l.Succeeded, l.OutputTokens)), back.Levels.Select(l => (l.Requests, l.Succeeded, l.OutputTokens)));
        Assert.Equal(report.Levels[2].TimeToFirstToken, back.Levels[2].TimeToFirstToken);
        using (var doc = JsonDocument.Parse(File.ReadAllText(json)))
        {
            var level = doc.RootElement.GetProperty("levels")[0];
            foreach (string field in new[] { "requests_per_second", "output_tokens_per_second", "time_to_first_token", "inter_token_latency", "end_to_end", "outcomes" })
                Assert.True(level.TryGetProperty(field, out _), $"report.json lacks levels[0].{field}");
            Assert.Equal("completions", doc.RootElement.GetProperty("mode").GetString());
            Assert.True(level.GetProperty("time_to_first_token").TryGetProperty("p99_ms", out _));
        }

        byte[] png = File.ReadAllBytes(chart);
        Assert.Equal(new byte[] { 0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A }, png[..8]);
        using var bitmap = SkiaSharp.SKBitmap.Decode(png);
        Assert.NotNull(bitmap);
        Assert.Equal((900, 540), (bitmap.Width, bitmap.Height));

        var lines = File.ReadAllLines(Path.Combine(temp.Path, "out", "requests.jsonl"));
        Assert.Equal(report.Levels.Sum(l => l.Requests), lines.Length);
        Assert.Equal(report.Levels[0].Outcomes.GetValueOrDefault("429"),
            lines.Select(l => JsonDocument.Parse(l).RootElement).Count(e => e.GetProperty("level").GetInt32() == 0 && e.GetProperty("request").GetProperty("outcome").GetString() == "429"));
    }

    [Fact]
    public void Bad_options_name_the_option()
    {
        var url = new Uri("http://127.0.0.1:1");
        Assert.Contains("concurrency", Assert.Throws<ArgumentException>(() => new LoadTestOptions { Url = url, Concurrency = [0] }.Validate()).Message);
        Assert.Contains("rate", Assert.Throws<ArgumentException>(() => new LoadTestOptions { Url = url, Rates = [-1] }.Validate()).Message);
        Assert.Contains("http", Assert.Throws<ArgumentException>(() => new LoadTestOptions { Url = new Uri("ftp://x/") }.Validate()).Message);
        Assert.Contains("input shape", Assert.Throws<ArgumentException>(() => new LoadTestOptions { Url = url, Mode = LoadTestMode.Classifier, InputShape = [1, 0] }.Validate()).Message);
    }
}
