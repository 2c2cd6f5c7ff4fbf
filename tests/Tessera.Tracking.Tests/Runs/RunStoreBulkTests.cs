using Tessera.Tracking.Runs;

namespace Tessera.Tracking.Tests.Runs;

/// <summary>The reads the dashboard uses: many runs' parameters and tags at once, and only the metric rows a poller has not seen.</summary>
public sealed class RunStoreBulkTests : IDisposable
{
    readonly TempDirectory temp = new("tessera-runs-bulk-");

    public void Dispose() => temp.Dispose();

    [Fact]
    public void Params_and_tags_of_many_runs_match_the_per_run_reads()
    {
        using var store = RunStore.Open(temp.File("runs.db"));
        var ids = new List<string>();
        for (int i = 0; i < 4; i++)
        {
            using var run = store.StartRun();
            ids.Add(run.Id);
            if (i == 3) continue; // one run without any
            run.LogParam("lr", $"0.00{i}");
            run.LogParam("seed", i.ToString(System.Globalization.CultureInfo.InvariantCulture));
            run.SetTag("i", $"{i}");
        }
        var parameters = store.GetParams(ids[1..]);
        var tags = store.GetTags(ids[1..]);
        Assert.Equal(ids[1..].Order(), parameters.Keys.Order());
        foreach (string id in ids[1..])
        {
            Assert.Equal(store.GetParams(id), parameters[id]);
            Assert.Equal(store.GetTags(id), tags[id]);
        }
        Assert.Empty(parameters[ids[3]]);
        Assert.Empty(store.GetParams(Array.Empty<string>()));
    }

    [Fact]
    public void Metric_history_since_a_row_returns_only_newer_points_of_that_run()
    {
        string path = temp.File("runs.db");
        using var store = RunStore.Open(path);
        using var run = store.StartRun();
        using var other = store.StartRun();
        run.LogMetric("loss", 3, 1);
        run.LogMetric("loss", 2, 2);
        other.LogMetric("loss", 9, 1);
        run.Flush();
        other.Flush();

        using var reader = RunStore.Open(path); // another connection, as the dashboard has
        var (all, last) = reader.GetMetricHistorySince(run.Id, 0);
        Assert.Equal([(1L, 3.0), (2L, 2.0)], all.Select(p => (p.Step, p.Value)));
        Assert.Empty(reader.GetMetricHistorySince(run.Id, last).Points);
        Assert.Equal(last, reader.GetMetricHistorySince(run.Id, last).LastRow);

        run.LogMetric("loss", 1, 3);
        run.LogMetric("acc", 0.5, 3);
        other.LogMetric("loss", 8, 2);
        run.Flush();
        other.Flush();
        var (fresh, next) = reader.GetMetricHistorySince(run.Id, last);
        Assert.Equal([("loss", 3L, 1.0), ("acc", 3L, 0.5)], fresh.Select(p => (p.Key, p.Step, p.Value)).OrderByDescending(p => p.Key));
        Assert.True(next > last);
    }
}
