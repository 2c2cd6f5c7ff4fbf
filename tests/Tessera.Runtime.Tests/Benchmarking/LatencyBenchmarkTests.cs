using Tessera.Runtime.Benchmarking;

namespace Tessera.Runtime.Tests.Benchmarking;

public class LatencyBenchmarkTests
{
    // Expected values are numpy.percentile(x, p) (linear interpolation, numpy's default).
    [Theory]
    [InlineData(50, 5.5)]
    [InlineData(95, 9.55)]
    [InlineData(99, 9.91)]
    [InlineData(0, 1)]
    [InlineData(100, 10)]
    public void Percentile_of_one_to_ten_matches_numpy(double p, double expected) =>
        Assert.Equal(expected, LatencyBenchmark.Percentile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], p), 1e-12);

    [Fact]
    public void Percentile_interpolates_between_ranks()
    {
        double[] sorted = [15, 20, 35, 40, 50];
        Assert.Equal(29, LatencyBenchmark.Percentile(sorted, 40), 1e-12);   // h = 1.6 -> 20 + 0.6 * 15
        Assert.Equal(48, LatencyBenchmark.Percentile(sorted, 95), 1e-12);   // h = 3.8 -> 40 + 0.8 * 10
        Assert.Equal(42, LatencyBenchmark.Percentile([42], 99), 1e-12);
        Assert.Throws<ArgumentOutOfRangeException>(() => LatencyBenchmark.Percentile(sorted, 101));
    }

    [Fact]
    public void Summarize_sorts_times_and_computes_throughput()
    {
        // 100 calls: 1..100 ms shuffled; numpy: p50 50.5, p95 95.05, p99 99.01, mean 50.5.
        var times = Enumerable.Range(1, 100).Select(i => (double)i).OrderBy(i => (i * 37) % 101).ToArray();
        var r = LatencyBenchmark.Summarize(times, batch: 8);
        Assert.Equal(100, r.Iterations);
        Assert.Equal(8, r.Batch);
        Assert.Equal(50.5, r.MeanMs, 1e-9);
        Assert.Equal(50.5, r.P50Ms, 1e-9);
        Assert.Equal(95.05, r.P95Ms, 1e-9);
        Assert.Equal(99.01, r.P99Ms, 1e-9);
        Assert.Equal(1, r.MinMs);
        Assert.Equal(100, r.MaxMs);
        Assert.Equal(8 * 100 / 5.05, r.ItemsPerSecond, 1e-9); // 800 items in 5050 ms
    }

    [Fact]
    public void Summarize_rejects_empty_or_negative_times()
    {
        Assert.Throws<ArgumentException>(() => LatencyBenchmark.Summarize([], 1));
        Assert.Throws<ArgumentException>(() => LatencyBenchmark.Summarize([1, -1], 1));
    }

    [Fact]
    public void Measure_runs_warmup_then_timed_iterations()
    {
        int calls = 0;
        var result = new LatencyBenchmark { Warmup = 3, Iterations = 20 }.Measure(() => calls++, batch: 4);
        Assert.Equal(23, calls);
        Assert.Equal(20, result.Iterations);
        Assert.True(result.P50Ms <= result.P95Ms && result.P95Ms <= result.P99Ms && result.P99Ms <= result.MaxMs);
    }

    [Fact]
    public void Measure_per_batch_builds_one_action_per_batch_size_and_sees_the_sleep()
    {
        var built = new List<int>();
        var results = new LatencyBenchmark { Warmup = 1, Iterations = 5 }.Measure(b =>
        {
            built.Add(b);
            return () => Thread.Sleep(b);
        }, [2, 10]);
        Assert.Equal([2, 10], built);
        Assert.Equal([2, 10], results.Select(r => r.Batch));
        Assert.True(results[1].MinMs >= 9.5, $"a 10 ms sleep measured {results[1].MinMs} ms");
        Assert.True(results[1].ItemsPerSecond <= 10 * 1000 / 9.5);
    }
}
