using Microsoft.Data.Sqlite;

namespace Tessera.Tracking.Runs;

/// <summary>
/// A running run: logs parameters, metrics, tags and artifacts to its <see cref="RunStore"/>, and keeps a heartbeat
/// so a crash is seen as <see cref="RunStatus.Killed"/>. Metrics are buffered and inserted in batches (at
/// <see cref="RunStoreOptions.MetricBatchSize"/> points, at each heartbeat, on <see cref="Flush"/> and at the end).
/// Thread-safe. <see cref="Dispose"/> without <see cref="End"/> ends the run as <see cref="RunStatus.Finished"/>.
/// </summary>
public sealed class TrackedRun : IDisposable
{
    readonly RunStore store;
    List<MetricPoint> pending = [];
    readonly Lock gate = new();
    readonly Timer heartbeat;
    bool ended;

    internal TrackedRun(RunStore store, string id, long number)
    {
        this.store = store;
        Id = id;
        Number = number;
        heartbeat = new Timer(_ => Beat(), null, store.Options.HeartbeatInterval, store.Options.HeartbeatInterval);
    }

    /// <summary>The run id (32 lowercase hex digits).</summary>
    public string Id { get; }

    /// <summary>The run's integer number in its store (how metric points refer to it).</summary>
    internal long Number { get; }

    /// <summary>The store the run writes to.</summary>
    public RunStore Store => store;

    /// <summary>
    /// Records a parameter. Parameters are immutable: logging the same key again with the same value is a no-op,
    /// with another value an error.
    /// </summary>
    /// <exception cref="TrackingException">The key was already logged with a different value.</exception>
    public void LogParam(string key, string value)
    {
        ArgumentException.ThrowIfNullOrEmpty(key);
        ArgumentNullException.ThrowIfNull(value);
        lock (store.Gate)
        {
            using var transaction = store.Connection.BeginTransaction(deferred: false);
            using (var insert = store.Command("INSERT INTO params(run_id, key, value) VALUES($run, $key, $value) ON CONFLICT(run_id, key) DO NOTHING;", transaction))
            {
                insert.Parameters.AddWithValue("$run", Id);
                insert.Parameters.AddWithValue("$key", key);
                insert.Parameters.AddWithValue("$value", value);
                if (insert.ExecuteNonQuery() == 0)
                {
                    using var query = store.Command("SELECT value FROM params WHERE run_id = $run AND key = $key;", transaction);
                    query.Parameters.AddWithValue("$run", Id);
                    query.Parameters.AddWithValue("$key", key);
                    string existing = (string)query.ExecuteScalar()!;
                    if (existing != value)
                        throw new TrackingException($"run {Id}: parameter '{key}' is already '{existing}'; parameters are immutable (tried '{value}')");
                }
            }
            transaction.Commit();
        }
    }

    /// <summary>Records several parameters (see <see cref="LogParam"/>).</summary>
    public void LogParams(IEnumerable<KeyValuePair<string, string>> parameters)
    {
        foreach (var (key, value) in parameters) LogParam(key, value);
    }

    /// <summary>Records <paramref name="value"/> of metric <paramref name="key"/> at <paramref name="step"/> (buffered).</summary>
    public void LogMetric(string key, double value, long step)
    {
        ArgumentException.ThrowIfNullOrEmpty(key);
        bool full;
        lock (gate)
        {
            pending.Add(new MetricPoint(key, step, value, DateTimeOffset.UtcNow));
            full = pending.Count >= store.Options.MetricBatchSize;
        }
        if (full) Flush();
    }

    /// <summary>Records several metrics at one step (buffered).</summary>
    public void LogMetrics(IReadOnlyDictionary<string, double> metrics, long step)
    {
        foreach (var (key, value) in metrics) LogMetric(key, value, step);
    }

    /// <summary>Sets a tag (tags, unlike parameters, may change).</summary>
    public void SetTag(string key, string value)
    {
        ArgumentException.ThrowIfNullOrEmpty(key);
        lock (store.Gate) store.UpsertTag(Id, key, value);
    }

    /// <summary>Hashes the file or folder at <paramref name="path"/> (<see cref="ContentFingerprint"/>) and records it.</summary>
    public ArtifactInfo LogArtifact(string path, ArtifactKind kind)
    {
        string full = System.IO.Path.GetFullPath(path);
        var fingerprint = ContentFingerprint.Compute(full);
        var artifact = new ArtifactInfo(full, kind, fingerprint.Sha256, fingerprint.Size, fingerprint.FileCount);
        lock (store.Gate)
        {
            using var command = store.Command("""
                INSERT INTO artifacts(run_id, path, kind, sha256, size, file_count, created_ms) VALUES($run, $path, $kind, $sha, $size, $count, $now)
                ON CONFLICT(run_id, path) DO UPDATE SET kind = excluded.kind, sha256 = excluded.sha256, size = excluded.size, file_count = excluded.file_count, created_ms = excluded.created_ms;
                """);
            command.Parameters.AddWithValue("$run", Id);
            command.Parameters.AddWithValue("$path", full);
            command.Parameters.AddWithValue("$kind", kind.ToString());
            command.Parameters.AddWithValue("$sha", artifact.Sha256);
            command.Parameters.AddWithValue("$size", artifact.Size);
            command.Parameters.AddWithValue("$count", artifact.FileCount);
            command.Parameters.AddWithValue("$now", DateTimeOffset.UtcNow.ToUnixTimeMilliseconds());
            command.ExecuteNonQuery();
        }
        return artifact;
    }

    /// <summary>Records the environment the run sees (replacing an earlier record).</summary>
    public void LogEnvironment(Capture.RunEnvironment environment)
    {
        lock (store.Gate)
        {
            using var command = store.Command("INSERT INTO environments(run_id, json) VALUES($run, $json) ON CONFLICT(run_id) DO UPDATE SET json = excluded.json;");
            command.Parameters.AddWithValue("$run", Id);
            command.Parameters.AddWithValue("$json", environment.ToJson());
            command.ExecuteNonQuery();
        }
    }

    /// <summary>Records a dataset the run read (see <see cref="DatasetInfo.FromPath"/>); the same name again replaces it.</summary>
    public void LogDataset(DatasetInfo dataset)
    {
        lock (store.Gate)
        {
            using var command = store.Command("""
                INSERT INTO datasets(run_id, name, source, revision, sha256, size, file_count) VALUES($run, $name, $source, $revision, $sha, $size, $count)
                ON CONFLICT(run_id, name) DO UPDATE SET source = excluded.source, revision = excluded.revision, sha256 = excluded.sha256, size = excluded.size, file_count = excluded.file_count;
                """);
            command.Parameters.AddWithValue("$run", Id);
            command.Parameters.AddWithValue("$name", dataset.Name);
            command.Parameters.AddWithValue("$source", dataset.Source);
            command.Parameters.AddWithValue("$revision", (object?)dataset.Revision ?? DBNull.Value);
            command.Parameters.AddWithValue("$sha", dataset.Sha256);
            command.Parameters.AddWithValue("$size", dataset.Size);
            command.Parameters.AddWithValue("$count", dataset.FileCount);
            command.ExecuteNonQuery();
        }
    }

    /// <summary>
    /// Drops the metric points after <paramref name="step"/> (a run resumed from a checkpoint at that step logs them again).
    /// </summary>
    public void DeleteMetricsAfter(long step)
    {
        Flush();
        lock (store.Gate)
        {
            using var transaction = store.Connection.BeginTransaction(deferred: false);
            using (var delete = store.Command("DELETE FROM metric_points WHERE run = $number AND step > $step;", transaction))
            {
                delete.Parameters.AddWithValue("$number", Number);
                delete.Parameters.AddWithValue("$step", step);
                delete.ExecuteNonQuery();
            }
            using (var latest = store.Command("""
                DELETE FROM latest_metrics WHERE run_id = $run;
                INSERT INTO latest_metrics(run_id, key, step, value)
                    SELECT $run, k.name, MAX(p.step), p.value FROM metric_points AS p JOIN metric_keys AS k ON k.id = p.key WHERE p.run = $number GROUP BY p.key;
                """, transaction))
            {
                latest.Parameters.AddWithValue("$run", Id);
                latest.Parameters.AddWithValue("$number", Number);
                latest.ExecuteNonQuery();
            }
            transaction.Commit();
        }
    }

    /// <summary>Writes the buffered metric points in one transaction.</summary>
    public void Flush()
    {
        List<MetricPoint> batch;
        lock (gate)
        {
            if (pending.Count == 0) return;
            batch = pending;
            pending = new List<MetricPoint>(Math.Min(batch.Count, store.Options.MetricBatchSize));
        }
        lock (store.Gate)
        {
            long[] keys = store.KeyIds(batch);
            using var transaction = store.Connection.BeginTransaction(deferred: false);
            store.InsertPoints(Number, store.NextPointId(Number, transaction), batch, keys);
            var latest = new Dictionary<string, MetricPoint>();
            foreach (var point in batch)
                if (!latest.TryGetValue(point.Key, out var seen) || point.Step >= seen.Step) latest[point.Key] = point;
            using var upsert = store.Command("""
                INSERT INTO latest_metrics(run_id, key, step, value) VALUES($run, $key, $step, $value)
                ON CONFLICT(run_id, key) DO UPDATE SET step = excluded.step, value = excluded.value WHERE excluded.step >= latest_metrics.step;
                """, transaction);
            foreach (var point in latest.Values)
            {
                upsert.Parameters.Clear();
                upsert.Parameters.AddWithValue("$run", Id);
                upsert.Parameters.AddWithValue("$key", point.Key);
                upsert.Parameters.AddWithValue("$step", point.Step);
                upsert.Parameters.AddWithValue("$value", RunStore.StoredValue(point.Value));
                upsert.ExecuteNonQuery();
            }
            transaction.Commit();
        }
    }

    /// <summary>Flushes and ends the run with <paramref name="status"/>; later calls do nothing.</summary>
    public void End(RunStatus status = RunStatus.Finished)
    {
        if (status == RunStatus.Running) throw new ArgumentException("a run ends as Finished, Failed or Killed", nameof(status));
        lock (gate)
        {
            if (ended) return;
            ended = true;
        }
        heartbeat.Dispose();
        Flush();
        lock (store.Gate)
        {
            using var command = store.Command("UPDATE runs SET status = $status, end_ms = $now, heartbeat_ms = $now WHERE id = $id;");
            command.Parameters.AddWithValue("$status", RunStore.StatusText(status));
            command.Parameters.AddWithValue("$now", DateTimeOffset.UtcNow.ToUnixTimeMilliseconds());
            command.Parameters.AddWithValue("$id", Id);
            command.ExecuteNonQuery();
        }
    }

    /// <summary>Ends the run as <see cref="RunStatus.Finished"/> unless <see cref="End"/> was called.</summary>
    public void Dispose() => End(RunStatus.Finished);

    void Beat()
    {
        try
        {
            Flush();
            lock (store.Gate)
            {
                using var command = store.Command("UPDATE runs SET heartbeat_ms = $now WHERE id = $id AND status = 'RUNNING';");
                command.Parameters.AddWithValue("$now", DateTimeOffset.UtcNow.ToUnixTimeMilliseconds());
                command.Parameters.AddWithValue("$id", Id);
                command.ExecuteNonQuery();
            }
        }
        catch (Exception e) when (e is SqliteException or ObjectDisposedException or InvalidOperationException)
        {
            // A missed heartbeat is harmless (the next one comes); the timer thread must not crash the process.
        }
    }
}
