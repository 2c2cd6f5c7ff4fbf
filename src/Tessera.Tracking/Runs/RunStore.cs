using System.Globalization;
using System.Text.Json;
using Microsoft.Data.Sqlite;

namespace Tessera.Tracking.Runs;

/// <summary>
/// The embedded runs store: experiments, runs, parameters, metrics, tags, artifacts, environments and datasets in one
/// SQLite file (WAL mode), by default <c>tessera-runs/runs.db</c> in the working directory. Several processes may
/// write to one store at once; a write waits for another's to finish (<see cref="RunStoreOptions.BusyTimeout"/>).
/// Opening a store upgrades an older schema and marks runs whose process died as <see cref="RunStatus.Killed"/>.
/// </summary>
/// <example>
/// <code>
/// using var store = RunStore.Open();
/// using var run = store.StartRun(new RunStartOptions { Experiment = "mnist", Name = "cnn-lr3e-3" });
/// run.LogParam("lr", "3e-3");
/// run.LogMetric("train/loss", 0.42, step: 100);
/// </code>
/// </example>
public sealed partial class RunStore : IDisposable
{
    /// <summary>The environment variable that names the store (a <c>.db</c> file, a folder, or a <c>file:</c> URI).</summary>
    public const string UriVariable = "TESSERA_TRACKING_URI";

    /// <summary>The default store, relative to the working directory.</summary>
    public const string DefaultRelativePath = "tessera-runs/runs.db";

    readonly SqliteConnection connection;
    readonly Lock gate = new();

    RunStore(string path, RunStoreOptions options, int? migrateTo)
    {
        Path = path;
        Options = options;
        Directory.CreateDirectory(System.IO.Path.GetDirectoryName(path)!);
        var builder = new SqliteConnectionStringBuilder
        {
            DataSource = path,
            Mode = SqliteOpenMode.ReadWriteCreate,
            Pooling = false, // Dispose closes the file (and checkpoints the WAL)
            DefaultTimeout = (int)Math.Ceiling(options.BusyTimeout.TotalSeconds),
        };
        connection = new SqliteConnection(builder.ToString());
        try
        {
            connection.Open();
            Execute($"PRAGMA busy_timeout = {(long)options.BusyTimeout.TotalMilliseconds};");
            Execute("PRAGMA journal_mode = WAL;");
            Execute("PRAGMA synchronous = NORMAL;"); // WAL + NORMAL: a crash loses at most the last commits, never the file
            SchemaVersion = RunStoreSchema.Migrate(connection, path, migrateTo);
            if (migrateTo is null) MarkStaleRuns();
        }
        catch (SqliteException e)
        {
            connection.Dispose();
            throw new TrackingException($"{path}: cannot open the runs store: {e.Message}", e);
        }
        catch
        {
            connection.Dispose();
            throw;
        }
    }

    /// <summary>Full path of the SQLite file.</summary>
    public string Path { get; }

    /// <summary>The options the store was opened with.</summary>
    public RunStoreOptions Options { get; }

    /// <summary>The schema version of the file (after upgrading it).</summary>
    public int SchemaVersion { get; }

    /// <summary>The schema version this Tessera writes.</summary>
    public static int CurrentSchemaVersion => RunStoreSchema.CurrentVersion;

    /// <summary>
    /// Opens (creating if needed) the store named by <paramref name="uri"/>: a <c>.db</c> file, a folder (its
    /// <c>runs.db</c>), or a <c>file:</c> URI; null means <see cref="UriVariable"/> if set, else
    /// <see cref="DefaultRelativePath"/> in the working directory.
    /// </summary>
    /// <exception cref="TrackingException">The file is not a runs store, or one from a newer Tessera.</exception>
    public static RunStore Open(string? uri = null, RunStoreOptions? options = null) =>
        new(ResolvePath(uri), options ?? new RunStoreOptions(), null);

    /// <summary>Opens the store at <paramref name="path"/> migrated only up to <paramref name="version"/> (tests of upgrades).</summary>
    internal static RunStore OpenAtVersion(string path, int version) => new(path, new RunStoreOptions(), version);

    /// <summary>The SQLite file that <see cref="Open"/> would use for <paramref name="uri"/>.</summary>
    /// <exception cref="ArgumentException"><paramref name="uri"/> is an http(s) URI (a remote tracking server, not a store file).</exception>
    public static string ResolvePath(string? uri = null)
    {
        uri ??= Environment.GetEnvironmentVariable(UriVariable) is { Length: > 0 } fromEnvironment ? fromEnvironment : DefaultRelativePath;
        if (uri.StartsWith("http://", StringComparison.OrdinalIgnoreCase) || uri.StartsWith("https://", StringComparison.OrdinalIgnoreCase))
            throw new ArgumentException($"tracking URI {uri} is a server, not a runs store file", nameof(uri));
        if (uri.StartsWith("file:", StringComparison.OrdinalIgnoreCase)) uri = new Uri(uri).LocalPath;
        string full = System.IO.Path.GetFullPath(uri);
        return Directory.Exists(full) || uri.EndsWith('/') ? System.IO.Path.Combine(full, "runs.db") : full;
    }

    /// <summary>
    /// Marks runs that still say <see cref="RunStatus.Running"/> but whose process is gone as
    /// <see cref="RunStatus.Killed"/>, ending them at their last heartbeat. A run from this machine is gone when its
    /// process (pid and start time) no longer exists; one from another machine when its heartbeat is older than
    /// <see cref="RunStoreOptions.StaleAfter"/>. Called by <see cref="Open"/>; returns how many runs it marked.
    /// </summary>
    public int MarkStaleRuns()
    {
        var stale = new List<(string Id, long Heartbeat)>();
        long now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        lock (gate)
        {
            using (var query = Command("SELECT id, host, pid, process_start_ms, heartbeat_ms FROM runs WHERE status = 'RUNNING';"))
            using (var reader = query.ExecuteReader())
                while (reader.Read())
                {
                    string host = reader.GetString(1);
                    long heartbeat = reader.GetInt64(4);
                    bool gone = host == ProcessIdentity.Host
                        ? !ProcessIdentity.IsAlive(reader.GetInt32(2), reader.GetInt64(3))
                        : now - heartbeat > (long)Options.StaleAfter.TotalMilliseconds;
                    if (gone) stale.Add((reader.GetString(0), heartbeat));
                }
            foreach (var (id, heartbeat) in stale)
            {
                using var update = Command("UPDATE runs SET status = 'KILLED', end_ms = $end WHERE id = $id AND status = 'RUNNING';");
                update.Parameters.AddWithValue("$end", heartbeat);
                update.Parameters.AddWithValue("$id", id);
                update.ExecuteNonQuery();
            }
        }
        return stale.Count;
    }

    /// <summary>The experiment called <paramref name="name"/>, created if it does not exist.</summary>
    public ExperimentInfo GetOrCreateExperiment(string name)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        lock (gate)
        {
            using (var insert = Command("INSERT INTO experiments(name, created_ms) VALUES($name, $now) ON CONFLICT(name) DO NOTHING;"))
            {
                insert.Parameters.AddWithValue("$name", name);
                insert.Parameters.AddWithValue("$now", DateTimeOffset.UtcNow.ToUnixTimeMilliseconds());
                insert.ExecuteNonQuery();
            }
            using var query = Command("SELECT id, name, created_ms FROM experiments WHERE name = $name;");
            query.Parameters.AddWithValue("$name", name);
            using var reader = query.ExecuteReader();
            reader.Read();
            return new ExperimentInfo(reader.GetInt64(0), reader.GetString(1), FromMs(reader.GetInt64(2)));
        }
    }

    /// <summary>Every experiment, oldest first.</summary>
    public IReadOnlyList<ExperimentInfo> ListExperiments()
    {
        lock (gate)
        {
            using var query = Command("SELECT id, name, created_ms FROM experiments ORDER BY id;");
            using var reader = query.ExecuteReader();
            var list = new List<ExperimentInfo>();
            while (reader.Read()) list.Add(new ExperimentInfo(reader.GetInt64(0), reader.GetString(1), FromMs(reader.GetInt64(2))));
            return list;
        }
    }

    /// <summary>Starts a run (status <see cref="RunStatus.Running"/>) and returns the handle that logs to it.</summary>
    public TrackedRun StartRun(RunStartOptions? options = null)
    {
        options ??= new RunStartOptions();
        var experiment = GetOrCreateExperiment(options.Experiment);
        string id = Guid.NewGuid().ToString("N");
        long now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        string name = options.Name ?? $"run-{DateTime.UtcNow:yyyyMMdd-HHmmss}";
        long number;
        lock (gate)
        {
            using var transaction = connection.BeginTransaction(deferred: false);
            using (var insert = Command("""
                INSERT INTO runs(id, experiment_id, name, status, start_ms, end_ms, command_line, arguments, parent_id, host, pid, process_start_ms, heartbeat_ms)
                VALUES($id, $experiment, $name, 'RUNNING', $now, NULL, $commandLine, $arguments, $parent, $host, $pid, $processStart, $now);
                """, transaction))
            {
                insert.Parameters.AddWithValue("$id", id);
                insert.Parameters.AddWithValue("$experiment", experiment.Id);
                insert.Parameters.AddWithValue("$name", name);
                insert.Parameters.AddWithValue("$now", now);
                insert.Parameters.AddWithValue("$commandLine", options.CommandLine ?? "");
                insert.Parameters.AddWithValue("$arguments", JsonSerializer.Serialize(options.Arguments ?? [], TrackingJsonContext.Default.IReadOnlyListString));
                insert.Parameters.AddWithValue("$parent", (object?)options.ParentId ?? DBNull.Value);
                insert.Parameters.AddWithValue("$host", ProcessIdentity.Host);
                insert.Parameters.AddWithValue("$pid", ProcessIdentity.ProcessId);
                insert.Parameters.AddWithValue("$processStart", ProcessIdentity.StartMs);
                insert.ExecuteNonQuery();
            }
            foreach (var (key, value) in options.Tags ?? new Dictionary<string, string>()) UpsertTag(id, key, value, transaction);
            number = RunNumber(id, transaction);
            transaction.Commit();
        }
        return new TrackedRun(this, id, number);
    }

    /// <summary>Closes the file.</summary>
    public void Dispose()
    {
        lock (gate) connection.Dispose();
    }

    // ---- shared helpers (used by TrackedRun and the query half) ----

    internal Lock Gate => gate;

    internal SqliteConnection Connection => connection;

    internal SqliteCommand Command(string sql, SqliteTransaction? transaction = null)
    {
        var command = connection.CreateCommand();
        command.CommandText = sql;
        command.Transaction = transaction;
        return command;
    }

    void Execute(string sql)
    {
        using var command = Command(sql);
        command.ExecuteNonQuery();
    }

    internal void UpsertTag(string runId, string key, string value, SqliteTransaction? transaction = null)
    {
        using var command = Command("INSERT INTO tags(run_id, key, value) VALUES($run, $key, $value) ON CONFLICT(run_id, key) DO UPDATE SET value = excluded.value;", transaction);
        command.Parameters.AddWithValue("$run", runId);
        command.Parameters.AddWithValue("$key", key);
        command.Parameters.AddWithValue("$value", value);
        command.ExecuteNonQuery();
    }

    internal static DateTimeOffset FromMs(long ms) => DateTimeOffset.FromUnixTimeMilliseconds(ms);

    internal static string StatusText(RunStatus status) => status.ToString().ToUpperInvariant();

    internal static RunStatus ParseStatus(string text) =>
        Enum.TryParse<RunStatus>(text, ignoreCase: true, out var status) ? status : throw new TrackingException($"unknown run status '{text}' in the runs store");

    // SQLite has no NaN (it would store NULL): non-finite values are stored as their invariant text ("NaN", "Infinity").
    internal static object StoredValue(double value) => double.IsFinite(value) ? value : value.ToString(CultureInfo.InvariantCulture);

    internal static double ReadValue(SqliteDataReader reader, int ordinal) =>
        reader.GetValue(ordinal) is string text ? double.Parse(text, CultureInfo.InvariantCulture) : reader.GetDouble(ordinal);

    internal static string Invariant(double value) => value.ToString("R", CultureInfo.InvariantCulture);
}
