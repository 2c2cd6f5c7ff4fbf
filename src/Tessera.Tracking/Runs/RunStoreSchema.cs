using Microsoft.Data.Sqlite;

namespace Tessera.Tracking.Runs;

/// <summary>
/// The store's schema as a list of migrations; <c>PRAGMA user_version</c> holds how many have been applied. A store
/// written by an older Tessera is upgraded in place when opened; one written by a newer Tessera is refused.
/// Migrations are append-only: never edit a released step, add a new one.
/// </summary>
static class RunStoreSchema
{
    /// <summary>Migration <c>i</c> takes a store from version <c>i</c> to <c>i + 1</c>.</summary>
    internal static readonly string[] Migrations =
    [
        // 1: experiments, runs, params, metrics, tags.
        """
        CREATE TABLE experiments(
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            name TEXT NOT NULL UNIQUE,
            created_ms INTEGER NOT NULL);
        CREATE TABLE runs(
            id TEXT PRIMARY KEY,
            experiment_id INTEGER NOT NULL REFERENCES experiments(id),
            name TEXT NOT NULL,
            status TEXT NOT NULL,
            start_ms INTEGER NOT NULL,
            end_ms INTEGER,
            command_line TEXT NOT NULL,
            arguments TEXT NOT NULL,
            parent_id TEXT,
            host TEXT NOT NULL,
            pid INTEGER NOT NULL,
            process_start_ms INTEGER NOT NULL,
            heartbeat_ms INTEGER NOT NULL);
        CREATE INDEX runs_by_start ON runs(start_ms);
        CREATE INDEX runs_by_status ON runs(status);
        CREATE TABLE params(run_id TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL, PRIMARY KEY(run_id, key)) WITHOUT ROWID;
        CREATE TABLE tags(run_id TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL, PRIMARY KEY(run_id, key)) WITHOUT ROWID;
        CREATE TABLE metrics(run_id TEXT NOT NULL, key TEXT NOT NULL, step INTEGER NOT NULL, value REAL NOT NULL, timestamp_ms INTEGER NOT NULL);
        CREATE INDEX metrics_by_run_key_step ON metrics(run_id, key, step);
        """,
        // 2: artifacts with content hashes; each run's latest value per metric (for fast run tables), backfilled.
        """
        CREATE TABLE artifacts(
            run_id TEXT NOT NULL,
            path TEXT NOT NULL,
            kind TEXT NOT NULL,
            sha256 TEXT NOT NULL,
            size INTEGER NOT NULL,
            file_count INTEGER NOT NULL,
            created_ms INTEGER NOT NULL,
            PRIMARY KEY(run_id, path));
        CREATE INDEX artifacts_by_sha256 ON artifacts(sha256);
        CREATE TABLE latest_metrics(run_id TEXT NOT NULL, key TEXT NOT NULL, step INTEGER NOT NULL, value REAL NOT NULL, PRIMARY KEY(run_id, key)) WITHOUT ROWID;
        INSERT INTO latest_metrics(run_id, key, step, value) SELECT run_id, key, MAX(step), value FROM metrics GROUP BY run_id, key;
        """,
        // 3: the environment a run saw (JSON document) and the datasets it read (fingerprints).
        """
        CREATE TABLE environments(run_id TEXT PRIMARY KEY, json TEXT NOT NULL) WITHOUT ROWID;
        CREATE TABLE datasets(
            run_id TEXT NOT NULL,
            name TEXT NOT NULL,
            source TEXT NOT NULL,
            revision TEXT,
            sha256 TEXT NOT NULL,
            size INTEGER NOT NULL,
            file_count INTEGER NOT NULL,
            PRIMARY KEY(run_id, name));
        """,
        // 4: compact metric points. Each run gets an integer number and each metric name an integer id; points are
        // stored as (run number, point id, key id, step, value, timestamp) clustered by (run, id), so that logging
        // appends to the end of the run's range and no secondary index is kept up. Point ids keep the old rowids
        // (increasing within a run, as GetMetricHistorySince needs).
        """
        CREATE TABLE run_numbers(number INTEGER PRIMARY KEY, run_id TEXT NOT NULL UNIQUE);
        INSERT INTO run_numbers(run_id) SELECT id FROM runs ORDER BY start_ms, id;
        INSERT OR IGNORE INTO run_numbers(run_id) SELECT DISTINCT run_id FROM metrics ORDER BY run_id;
        CREATE TABLE metric_keys(id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);
        INSERT INTO metric_keys(name) SELECT DISTINCT key FROM metrics ORDER BY key;
        CREATE TABLE metric_points(
            run INTEGER NOT NULL,
            id INTEGER NOT NULL,
            key INTEGER NOT NULL,
            step INTEGER NOT NULL,
            value REAL NOT NULL,
            timestamp_ms INTEGER NOT NULL,
            PRIMARY KEY(run, id)) WITHOUT ROWID;
        INSERT INTO metric_points(run, id, key, step, value, timestamp_ms)
            SELECT r.number, m.rowid, k.id, m.step, m.value, m.timestamp_ms
            FROM metrics AS m JOIN run_numbers AS r ON r.run_id = m.run_id JOIN metric_keys AS k ON k.name = m.key
            ORDER BY r.number, m.rowid;
        DROP TABLE metrics;
        """,
    ];

    /// <summary>The version a store has after every migration.</summary>
    internal static int CurrentVersion => Migrations.Length;

    /// <summary>
    /// Brings the store on <paramref name="connection"/> to <paramref name="target"/> (default: the current version),
    /// each step in its own immediate transaction so that two processes opening a new store at once do not both apply it.
    /// </summary>
    /// <exception cref="TrackingException">The store is newer than this Tessera knows.</exception>
    internal static int Migrate(SqliteConnection connection, string path, int? target = null)
    {
        int goal = target ?? CurrentVersion;
        while (true)
        {
            using var transaction = connection.BeginTransaction(deferred: false);
            int version = UserVersion(connection, transaction);
            if (version > CurrentVersion)
                throw new TrackingException($"{path}: runs store schema version {version} is newer than this Tessera supports ({CurrentVersion}); upgrade Tessera");
            if (version >= goal) { transaction.Commit(); return version; }
            using (var command = connection.CreateCommand())
            {
                command.Transaction = transaction;
                command.CommandText = Migrations[version] + $"\nPRAGMA user_version = {version + 1};";
                command.ExecuteNonQuery();
            }
            transaction.Commit();
        }
    }

    internal static int UserVersion(SqliteConnection connection, SqliteTransaction? transaction = null)
    {
        using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = "PRAGMA user_version;";
        return Convert.ToInt32(command.ExecuteScalar(), System.Globalization.CultureInfo.InvariantCulture);
    }
}
