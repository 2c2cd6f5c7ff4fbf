using System.Collections.Concurrent;
using System.Diagnostics;

namespace Tessera.LoadTest;

/// <summary>
/// Runs a load test: warm-up requests, then each closed-loop level (N clients, each sending its next request as soon
/// as its last one ends), then each open-loop level (requests starting at Poisson-distributed times at a given rate,
/// however slow the server). One <see cref="HttpClient"/> with a connection pool sized for the largest level serves
/// all requests.
/// </summary>
public static class LoadTestRunner
{
    /// <summary>An open-loop level never has more than this many requests in flight; arrivals beyond it count as <c>client_limit</c>.</summary>
    public const int MaxOpenLoopInFlight = 4096;

    /// <summary>Runs every level of <paramref name="options"/> and returns the report; <paramref name="progress"/> hears of each level as it ends.</summary>
    /// <exception cref="ArgumentException">an option cannot be used (see <see cref="LoadTestOptions.Validate"/>).</exception>
    public static async Task<LoadTestReport> RunAsync(LoadTestOptions options, IProgress<LevelReport>? progress = null, CancellationToken cancellationToken = default)
    {
        options.Validate();
        int connections = Math.Max(options.Concurrency.DefaultIfEmpty(1).Max(), options.Rates.Count > 0 ? MaxOpenLoopInFlight : 1);
        using var client = new LoadClient(options, connections);
        await client.PrepareAsync(cancellationToken).ConfigureAwait(false);
        var warmup = new List<RequestResult>();
        for (int i = 0; i < options.WarmupRequests; i++)
            warmup.Add(await client.SendAsync(i, Stopwatch.GetTimestamp(), cancellationToken).ConfigureAwait(false));
        if (options.WarmupDuration > TimeSpan.Zero)
        {
            var warm = options with { Duration = options.WarmupDuration, MaxRequests = null };
            warmup.AddRange((await RunClosedAsync(client, warm, options.Concurrency.DefaultIfEmpty(1).First(), cancellationToken).ConfigureAwait(false)).Results);
        }

        var levels = new List<LevelReport>();
        foreach (int concurrency in options.Concurrency)
        {
            var level = await RunClosedAsync(client, options, concurrency, cancellationToken).ConfigureAwait(false);
            levels.Add(level);
            progress?.Report(level);
        }
        foreach (double rate in options.Rates)
        {
            var level = await RunOpenAsync(client, options, rate, cancellationToken).ConfigureAwait(false);
            levels.Add(level);
            progress?.Report(level);
        }
        return new LoadTestReport
        {
            Url = options.Url.ToString(),
            Endpoint = client.EndpointUrl.ToString(),
            Mode = options.Mode,
            Stream = options.Stream && options.Mode != LoadTestMode.Classifier,
            Model = options.Model,
            MaxTokens = options.Mode == LoadTestMode.Classifier ? null : options.MaxTokens,
            InputShape = options.Mode == LoadTestMode.Classifier ? options.InputShape : null,
            DurationSeconds = options.Duration.TotalSeconds,
            MaxRequests = options.MaxRequests,
            WarmupOutcomes = warmup.GroupBy(r => r.Outcome).ToDictionary(g => g.Key, g => g.Count()),
            Levels = levels,
        };
    }

    static async Task<LevelReport> RunClosedAsync(LoadClient client, LoadTestOptions options, int concurrency, CancellationToken cancellationToken)
    {
        var results = new ConcurrentQueue<RequestResult>();
        long start = Stopwatch.GetTimestamp();
        long started = 0;
        async Task Worker()
        {
            await Task.Yield();
            while (Stopwatch.GetElapsedTime(start) < options.Duration)
            {
                long index = Interlocked.Increment(ref started) - 1;
                if (options.MaxRequests is int max && index >= max) break;
                results.Enqueue(await client.SendAsync(index, start, cancellationToken).ConfigureAwait(false));
            }
        }
        await Task.WhenAll(Enumerable.Range(0, concurrency).Select(_ => Worker())).ConfigureAwait(false);
        return LevelReport.Summarize("closed", concurrency, null, results, Stopwatch.GetElapsedTime(start).TotalSeconds);
    }

    static async Task<LevelReport> RunOpenAsync(LoadClient client, LoadTestOptions options, double rate, CancellationToken cancellationToken)
    {
        var results = new ConcurrentQueue<RequestResult>();
        var random = new Random(options.Seed);
        var running = new List<Task>();
        int inFlight = 0, peak = 0;
        long start = Stopwatch.GetTimestamp();
        double next = 0; // seconds after start of the next arrival
        for (long index = 0; options.MaxRequests is not int max || index < max; index++)
        {
            next += -Math.Log(1 - random.NextDouble()) / rate; // exponential gaps: Poisson arrivals
            if (next >= options.Duration.TotalSeconds) break;
            var wait = TimeSpan.FromSeconds(next) - Stopwatch.GetElapsedTime(start);
            if (wait > TimeSpan.FromMilliseconds(1)) await Task.Delay(wait, cancellationToken).ConfigureAwait(false); // behind schedule: send at once
            if (Volatile.Read(ref inFlight) >= MaxOpenLoopInFlight)
            {
                results.Enqueue(new RequestResult("client_limit", $"more than {MaxOpenLoopInFlight} requests in flight", Stopwatch.GetElapsedTime(start).TotalSeconds, 0, null, [], 0));
                continue;
            }
            int now = Interlocked.Increment(ref inFlight);
            if (now > peak) peak = now; // only this loop writes peak
            long i = index;
            running.Add(Task.Run(async () =>
            {
                try { results.Enqueue(await client.SendAsync(i, start, cancellationToken).ConfigureAwait(false)); }
                finally { Interlocked.Decrement(ref inFlight); }
            }, cancellationToken));
        }
        await Task.WhenAll(running).ConfigureAwait(false);
        return LevelReport.Summarize("open", peak, rate, results, Stopwatch.GetElapsedTime(start).TotalSeconds);
    }
}
