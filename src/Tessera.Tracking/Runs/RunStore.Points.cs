using Microsoft.Data.Sqlite;
using SQLitePCL;

namespace Tessera.Tracking.Runs;

// Metric points in the compact schema (version 4): runs by integer number, metric names by integer id, rows clustered
// by (run, id). Batches are bound through SQLitePCLRaw, the public API Microsoft.Data.Sqlite itself is built on: one
// prepared multi-row INSERT reused for the whole batch, values bound by position, no per-row ADO.NET command.
public sealed partial class RunStore
{
    /// <summary>Rows per multi-row INSERT (5 bound values each, plus the run number once).</summary>
    const int RowsPerInsert = 128;

    // Metric name -> id. Ids are never reused or deleted, so a cached id stays right for every process; only ids
    // whose insert has committed are cached.
    readonly Dictionary<string, long> keyIds = new(StringComparer.Ordinal);

    /// <summary>The integer number of run <paramref name="runId"/> (what metric_points stores), created if missing.</summary>
    internal long RunNumber(string runId, SqliteTransaction? transaction = null)
    {
        using var command = Command("""
            INSERT INTO run_numbers(run_id) VALUES($run) ON CONFLICT(run_id) DO NOTHING;
            SELECT number FROM run_numbers WHERE run_id = $run;
            """, transaction);
        command.Parameters.AddWithValue("$run", runId);
        return (long)command.ExecuteScalar()!;
    }

    /// <summary>The metric-key id of each point's key; names not seen before are added in a transaction of their own. Caller holds the gate.</summary>
    internal long[] KeyIds(List<MetricPoint> points)
    {
        var missing = new List<string>();
        foreach (var point in points)
            if (!keyIds.ContainsKey(point.Key) && !missing.Contains(point.Key)) missing.Add(point.Key);
        if (missing.Count > 0)
        {
            var found = new Dictionary<string, long>(StringComparer.Ordinal);
            using (var transaction = connection.BeginTransaction(deferred: false))
            {
                using var insert = Command("INSERT INTO metric_keys(name) VALUES($name) ON CONFLICT(name) DO NOTHING; SELECT id FROM metric_keys WHERE name = $name;", transaction);
                var name = insert.Parameters.Add("$name", SqliteType.Text);
                foreach (string key in missing)
                {
                    name.Value = key;
                    found[key] = (long)insert.ExecuteScalar()!;
                }
                transaction.Commit();
            }
            foreach (var (key, id) in found) keyIds[key] = id;
        }
        var ids = new long[points.Count];
        string? lastKey = null;
        long lastId = 0;
        for (int i = 0; i < ids.Length; i++)
        {
            string key = points[i].Key;
            if (!ReferenceEquals(key, lastKey)) { lastId = keyIds[key]; lastKey = key; }
            ids[i] = lastId;
        }
        return ids;
    }

    /// <summary>The id the run's next metric point gets (one past its highest). Caller holds the write transaction.</summary>
    internal long NextPointId(long runNumber, SqliteTransaction transaction)
    {
        using var command = Command("SELECT coalesce(max(id), 0) + 1 FROM metric_points WHERE run = $run;", transaction);
        command.Parameters.AddWithValue("$run", runNumber);
        return (long)command.ExecuteScalar()!;
    }

    /// <summary>
    /// Inserts <paramref name="points"/> as rows <paramref name="firstId"/>, <paramref name="firstId"/> + 1, ... of run
    /// <paramref name="runNumber"/>, inside the caller's open transaction (the connection's). Caller holds the gate.
    /// Non-finite values are stored as their invariant text (SQLite has no NaN), as <see cref="ReadValue"/> expects.
    /// </summary>
    internal void InsertPoints(long runNumber, long firstId, List<MetricPoint> points, long[] keys)
    {
        var db = connection.Handle ?? throw new InvalidOperationException($"{Path}: the runs store is closed");
        int whole = points.Count / RowsPerInsert * RowsPerInsert;
        if (whole > 0)
        {
            using var statement = Prepare(db, InsertSql(RowsPerInsert));
            Check(db, raw.sqlite3_bind_int64(statement, 1, runNumber));
            for (int start = 0; start < whole; start += RowsPerInsert)
            {
                BindRows(db, statement, firstId, points, keys, start, RowsPerInsert);
                Step(db, statement);
                Check(db, raw.sqlite3_reset(statement));
            }
        }
        if (whole < points.Count)
        {
            using var statement = Prepare(db, InsertSql(points.Count - whole));
            Check(db, raw.sqlite3_bind_int64(statement, 1, runNumber));
            BindRows(db, statement, firstId, points, keys, whole, points.Count - whole);
            Step(db, statement);
        }
    }

    static void BindRows(sqlite3 db, sqlite3_stmt statement, long firstId, List<MetricPoint> points, long[] keys, int start, int rows)
    {
        int parameter = 2;
        for (int i = start; i < start + rows; i++)
        {
            var point = points[i];
            Check(db, raw.sqlite3_bind_int64(statement, parameter++, firstId + i));
            Check(db, raw.sqlite3_bind_int64(statement, parameter++, keys[i]));
            Check(db, raw.sqlite3_bind_int64(statement, parameter++, point.Step));
            Check(db, double.IsFinite(point.Value)
                ? raw.sqlite3_bind_double(statement, parameter++, point.Value)
                : raw.sqlite3_bind_text(statement, parameter++, Invariant(point.Value)));
            Check(db, raw.sqlite3_bind_int64(statement, parameter++, point.Timestamp.ToUnixTimeMilliseconds()));
        }
    }

    static string InsertSql(int rows)
    {
        var sql = new System.Text.StringBuilder("INSERT INTO metric_points(run, id, key, step, value, timestamp_ms) VALUES", 32 + rows * 40);
        for (int row = 0, p = 2; row < rows; row++, p += 5)
            sql.Append(row == 0 ? "" : ",").Append("(?1,?").Append(p).Append(",?").Append(p + 1).Append(",?").Append(p + 2)
                .Append(",?").Append(p + 3).Append(",?").Append(p + 4).Append(')');
        return sql.Append(';').ToString();
    }

    static sqlite3_stmt Prepare(sqlite3 db, string sql)
    {
        int rc = raw.sqlite3_prepare_v2(db, sql, out sqlite3_stmt statement);
        if (rc != raw.SQLITE_OK)
        {
            statement.Dispose();
            SqliteException.ThrowExceptionForRC(rc, db);
        }
        return statement;
    }

    static void Step(sqlite3 db, sqlite3_stmt statement)
    {
        int rc = raw.sqlite3_step(statement);
        if (rc != raw.SQLITE_DONE) SqliteException.ThrowExceptionForRC(rc, db);
    }

    static void Check(sqlite3 db, int rc)
    {
        if (rc != raw.SQLITE_OK) SqliteException.ThrowExceptionForRC(rc, db);
    }
}
