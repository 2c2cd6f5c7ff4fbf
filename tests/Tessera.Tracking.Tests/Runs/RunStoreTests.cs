using Microsoft.Data.Sqlite;
using Tessera.Tracking.Runs;

namespace Tessera.Tracking.Tests.Runs;

public sealed class RunStoreTests : IDisposable
{
    readonly TempDirectory temp = new("tessera-runs-");

    public void Dispose() => temp.Dispose();

    string Db => temp.File("runs.db");

    [Fact]
    public void A_run_records_params_metrics_tags_and_ends_finished()
    {
        using var store = RunStore.Open(Db);
        string id;
        using (var run = store.StartRun(new RunStartOptions { Experiment = "mnist", Name = "cnn", CommandLine = "tessera train x", Arguments = ["train", "x"] }))
        {
            id = run.Id;
            run.LogParam("lr", "0.003");
            run.LogParam("lr", "0.003"); // same value again: fine
            run.SetTag("team", "a");
            run.SetTag("team", "b"); // tags may change
            run.LogMetric("loss", 2.0, 1);
            run.LogMetric("loss", 1.0, 2);
            run.LogMetric("acc", 0.5, 2);
            Assert.Equal(RunStatus.Running, store.GetRun(id).Status);
        }
        Assert.Matches("^[0-9a-f]{32}$", id);
        var info = store.GetRun(id);
        Assert.Equal(RunStatus.Finished, info.Status);
        Assert.Equal("cnn", info.Name);
        Assert.Equal(["train", "x"], info.Arguments);
        Assert.NotNull(info.EndTime);
        Assert.Equal("mnist", store.ListExperiments().Single(e => e.Id == info.ExperimentId).Name);
        Assert.Equal("0.003", store.GetParams(id)["lr"]);
        Assert.Equal("b", store.GetTags(id)["team"]);
        Assert.Equal(new Dictionary<string, double> { ["acc"] = 0.5, ["loss"] = 1.0 }, store.GetLatestMetrics(id));
        Assert.Equal([2.0, 1.0], store.GetMetricHistory(id, "loss").Select(p => p.Value));
        Assert.Equal(id, store.GetRun(id[..6]).Id); // a unique prefix finds the run
    }

    [Fact]
    public void Non_finite_values_and_odd_keys_survive_the_batched_insert()
    {
        using var store = RunStore.Open(Db);
        using var run = store.StartRun();
        run.LogMetric("loss", double.NaN, 1);
        run.LogMetric("loss \"quoted\" / ünïcode", double.PositiveInfinity, 2);
        run.LogMetric("loss", 1e-300, 3);
        run.Flush();
        var points = store.GetMetricHistory(run.Id);
        Assert.Equal([("loss", 1L, double.NaN), ("loss", 3L, 1e-300), ("loss \"quoted\" / ünïcode", 2L, double.PositiveInfinity)],
            points.Select(p => (p.Key, p.Step, p.Value)));
    }

    [Fact]
    public void Params_are_immutable()
    {
        using var store = RunStore.Open(Db);
        using var run = store.StartRun();
        run.LogParam("lr", "0.1");
        var e = Assert.Throws<TrackingException>(() => run.LogParam("lr", "0.2"));
        Assert.Contains("'lr' is already '0.1'", e.Message);
    }

    [Fact]
    public void Resume_drops_metrics_after_the_checkpoint_step()
    {
        using var store = RunStore.Open(Db);
        using var run = store.StartRun();
        for (int step = 1; step <= 10; step++) run.LogMetric("loss", 10 - step, step);
        run.DeleteMetricsAfter(6);
        Assert.Equal([1L, 2, 3, 4, 5, 6], store.GetMetricHistory(run.Id).Select(p => p.Step));
        Assert.Equal(4.0, store.GetLatestMetrics(run.Id)["loss"]);
    }

    [Fact]
    public void Artifacts_are_recorded_with_their_content_hash_and_found_by_it()
    {
        string folder = Path.Combine(temp.Path, "model");
        Directory.CreateDirectory(folder);
        File.WriteAllText(Path.Combine(folder, "config.json"), "{}");
        using var store = RunStore.Open(Db);
        using var run = store.StartRun();
        var artifact = run.LogArtifact(folder, ArtifactKind.ModelFolder);
        Assert.Equal(ContentFingerprint.Compute(folder).Sha256, artifact.Sha256);
        Assert.Equal((2L, 1), (artifact.Size, artifact.FileCount));
        Assert.Equal(artifact, store.GetArtifacts(run.Id).Single());
        Assert.Equal(run.Id, store.FindArtifacts(null, artifact.Sha256).Single().RunId);
    }

    [Fact]
    public void Tracking_uri_names_a_file_a_folder_or_a_file_uri()
    {
        Assert.Equal(Db, RunStore.ResolvePath(Db));
        Assert.Equal(Path.Combine(temp.Path, "runs.db"), RunStore.ResolvePath(temp.Path));
        Assert.Equal(Db, RunStore.ResolvePath(new Uri(Db).AbsoluteUri));
        Assert.Throws<ArgumentException>(() => RunStore.ResolvePath("http://127.0.0.1:5000"));
    }

    [Fact]
    public async Task Two_processes_writing_10k_metrics_each_lose_nothing()
    {
        using (RunStore.Open(Db)) { } // created up front, so both writers find the schema
        var writers = new[] { StoreWriterProcess.RunAsync(Db, "metrics", "10000", "a"), StoreWriterProcess.RunAsync(Db, "metrics", "10000", "b") };
        string[] ids = [.. (await Task.WhenAll(writers)).Select(o => o.Trim())];
        using var store = RunStore.Open(Db);
        foreach (string id in ids)
        {
            var points = store.GetMetricHistory(id, "loss");
            Assert.Equal(Enumerable.Range(0, 10_000).Select(i => (long)i), points.Select(p => p.Step));
            Assert.Equal(Enumerable.Range(0, 10_000).Select(i => i * 0.5), points.Select(p => p.Value));
            Assert.Equal(RunStatus.Finished, store.GetRun(id).Status);
        }
    }

    [Fact]
    public async Task A_run_whose_process_was_killed_shows_as_killed_when_the_store_opens()
    {
        string id;
        using (var process = StoreWriterProcess.Start(Db, "hang", "doomed"))
        {
            id = (await process.StandardOutput.ReadLineAsync(TestContext.Current.CancellationToken))!.Trim();
            using (var peek = RunStore.Open(Db)) Assert.Equal(RunStatus.Running, peek.GetRun(id).Status); // alive: not stale
            process.Kill(); // SIGKILL on Linux
            await process.WaitForExitAsync(TestContext.Current.CancellationToken);
        }
        using var store = RunStore.Open(Db);
        var run = store.GetRun(id);
        Assert.Equal(RunStatus.Killed, run.Status);
        Assert.Equal(run.LastHeartbeat, run.EndTime);
        Assert.Equal(1.0, store.GetLatestMetrics(id)["loss"]);
    }

    [Fact]
    public async Task A_process_killed_mid_write_leaves_a_readable_store()
    {
        string id;
        using (var process = StoreWriterProcess.Start(Db, "flood", "crash"))
        {
            id = (await process.StandardOutput.ReadLineAsync(TestContext.Current.CancellationToken))!.Trim();
            for (int i = 0; i < 3; i++) await process.StandardOutput.ReadLineAsync(TestContext.Current.CancellationToken); // batches 0..2 committed
            process.Kill();
            await process.WaitForExitAsync(TestContext.Current.CancellationToken);
        }
        using var store = RunStore.Open(Db);
        Assert.Equal("ok", Scalar(store, "PRAGMA integrity_check;"));
        Assert.Equal(RunStatus.Killed, store.GetRun(id).Status);
        var steps = store.GetMetricHistory(id).Select(p => p.Step).ToList();
        Assert.True(steps.Count >= 6000 && steps.Count % 2000 == 0, $"{steps.Count} points: expected whole batches of 2000, at least 3");
        Assert.Equal(Enumerable.Range(0, steps.Count).Select(i => (long)i), steps);
    }

    [Fact]
    public void A_run_from_another_host_is_killed_only_when_its_heartbeat_is_stale()
    {
        using (var store = RunStore.Open(Db))
        {
            using var run = store.StartRun();
            long now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
            Insert(store, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "other-host", now - 10 * 60_000);
            Insert(store, "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb", "other-host", now - 1_000);
            run.End();
        }
        using var reopened = RunStore.Open(Db);
        Assert.Equal(RunStatus.Killed, reopened.GetRun("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa").Status);
        Assert.Equal(RunStatus.Running, reopened.GetRun("bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb").Status);
    }

    [Fact]
    public void A_version_1_store_is_upgraded_keeping_its_runs()
    {
        using (var old = RunStore.OpenAtVersion(Db, 1))
        {
            Assert.Equal(1, old.SchemaVersion);
            Execute(old, """
                INSERT INTO experiments(name, created_ms) VALUES('Default', 0);
                INSERT INTO runs VALUES('cccccccccccccccccccccccccccccccc', 1, 'old', 'FINISHED', 0, 5, 'tessera train', '["train"]', NULL, 'h', 1, 0, 5);
                INSERT INTO metrics VALUES('cccccccccccccccccccccccccccccccc', 'loss', 1, 0.9, 1), ('cccccccccccccccccccccccccccccccc', 'loss', 3, 0.3, 3), ('cccccccccccccccccccccccccccccccc', 'loss', 2, 0.5, 2);
                INSERT INTO params VALUES('cccccccccccccccccccccccccccccccc', 'lr', '0.1');
                """);
            Assert.Throws<SqliteException>(() => Execute(old, "SELECT * FROM artifacts;"));
        }
        using var store = RunStore.Open(Db);
        Assert.Equal(RunStore.CurrentSchemaVersion, store.SchemaVersion);
        Assert.Equal("old", store.GetRun("cccccccccccccccccccccccccccccccc").Name);
        Assert.Equal("0.1", store.GetParams("cccccccccccccccccccccccccccccccc")["lr"]);
        Assert.Equal(0.3, store.GetLatestMetrics("cccccccccccccccccccccccccccccccc")["loss"]); // backfilled: value at the highest step
        Assert.Empty(store.GetArtifacts("cccccccccccccccccccccccccccccccc"));
    }

    [Fact]
    public void A_version_3_store_keeps_its_metric_points_through_the_compact_schema()
    {
        const string A = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", B = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";
        using (var old = RunStore.OpenAtVersion(Db, 3))
        {
            Assert.Equal(3, old.SchemaVersion);
            // Rows as version 3 wrote them: text run ids and keys, non-finite values as text, two runs interleaved.
            Execute(old, $"""
                INSERT INTO experiments(name, created_ms) VALUES('Default', 0);
                INSERT INTO runs VALUES('{A}', 1, 'a', 'FINISHED', 10, 50, 'tessera train', '[]', NULL, 'h', 1, 0, 50);
                INSERT INTO runs VALUES('{B}', 1, 'b', 'RUNNING', 20, NULL, 'tessera train', '[]', NULL, 'other-host', 1, 0, {DateTimeOffset.UtcNow.ToUnixTimeMilliseconds()});
                INSERT INTO metrics VALUES('{A}', 'loss', 1, 0.9, 1001), ('{B}', 'loss', 1, 7.0, 1002), ('{A}', 'acc', 1, 0.1, 1003),
                                          ('{A}', 'loss', 2, 'NaN', 1004), ('{A}', 'loss', 2, 0.4, 1005), ('{B}', 'lr', 1, 0.01, 1006);
                INSERT INTO latest_metrics VALUES('{A}', 'loss', 2, 0.4), ('{A}', 'acc', 1, 0.1), ('{B}', 'loss', 1, 7.0), ('{B}', 'lr', 1, 0.01);
                """);
        }
        using var store = RunStore.Open(Db);
        Assert.Equal(RunStore.CurrentSchemaVersion, store.SchemaVersion);
        Assert.Throws<SqliteException>(() => Execute(store, "SELECT * FROM metrics;")); // the text-keyed table is gone
        var a = store.GetMetricHistory(A);
        Assert.Equal(
            [("acc", 1L, 0.1, 1003L), ("loss", 1, 0.9, 1001), ("loss", 2, double.NaN, 1004), ("loss", 2, 0.4, 1005)],
            a.Select(p => (p.Key, p.Step, p.Value, p.Timestamp.ToUnixTimeMilliseconds())));
        Assert.Equal([("loss", 7.0), ("lr", 0.01)], store.GetMetricHistory(B).Select(p => (p.Key, p.Value)));
        Assert.Equal([0.9, double.NaN, 0.4], store.GetMetricHistory(A, "loss").Select(p => p.Value));
        var (since, lastRow) = store.GetMetricHistorySince(A, 0);
        Assert.Equal([0.9, 0.1, double.NaN, 0.4], since.Select(p => p.Value)); // in the order they were written
        Assert.Equal(new Dictionary<string, double> { ["acc"] = 0.1, ["loss"] = 0.4 }, store.GetLatestMetrics(A));

        // A run started after the upgrade writes next to the migrated ones.
        using (var run = store.StartRun())
        {
            run.LogMetric("loss", 0.5, 1);
            run.LogMetric("bleu", 30, 1);
            run.End();
            Assert.Equal([("bleu", 30.0), ("loss", 0.5)], store.GetMetricHistory(run.Id).Select(p => (p.Key, p.Value)));
        }
        Assert.Equal(4, store.GetMetricHistory(A).Count);
        Assert.Empty(store.GetMetricHistorySince(A, lastRow).Points);
    }

    [Fact]
    public void A_store_from_a_newer_tessera_is_refused()
    {
        using (var store = RunStore.Open(Db)) Execute(store, "PRAGMA user_version = 99;");
        var e = Assert.Throws<TrackingException>(() => RunStore.Open(Db));
        Assert.Contains("schema version 99 is newer", e.Message);
        Assert.Contains(Db, e.Message);
    }

    [Fact]
    public void The_store_uses_write_ahead_logging()
    {
        using var store = RunStore.Open(Db);
        Assert.Equal("wal", Scalar(store, "PRAGMA journal_mode;"));
    }

    static void Insert(RunStore store, string id, string host, long heartbeat) => Execute(store,
        $"INSERT INTO runs VALUES('{id}', 1, 'x', 'RUNNING', {heartbeat}, NULL, '', '[]', NULL, '{host}', 1, 0, {heartbeat});");

    static void Execute(RunStore store, string sql)
    {
        using var command = store.Command(sql);
        command.ExecuteNonQuery();
    }

    static string? Scalar(RunStore store, string sql)
    {
        using var command = store.Command(sql);
        return Convert.ToString(command.ExecuteScalar(), System.Globalization.CultureInfo.InvariantCulture);
    }
}
