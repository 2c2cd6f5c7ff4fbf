using System.Text.Json;
using Microsoft.Data.Sqlite;

namespace Tessera.Tracking.Runs;

// The read side of the store: runs, their parameters, metrics, tags, artifacts.
public sealed partial class RunStore
{
    const string RunColumns = "id, experiment_id, name, status, start_ms, end_ms, command_line, arguments, parent_id, host, pid, heartbeat_ms";

    /// <summary>Runs, newest first; only <paramref name="experimentId"/>'s when given; at most <paramref name="limit"/>.</summary>
    public IReadOnlyList<RunInfo> ListRuns(long? experimentId = null, int? limit = null)
    {
        lock (gate)
        {
            using var query = Command($"SELECT {RunColumns} FROM runs {(experimentId is null ? "" : "WHERE experiment_id = $experiment")} ORDER BY start_ms DESC, id LIMIT $limit;");
            if (experimentId is not null) query.Parameters.AddWithValue("$experiment", experimentId);
            query.Parameters.AddWithValue("$limit", limit ?? -1);
            using var reader = query.ExecuteReader();
            var runs = new List<RunInfo>();
            while (reader.Read()) runs.Add(ReadRun(reader));
            return runs;
        }
    }

    /// <summary>
    /// The run with id <paramref name="idOrPrefix"/>, or the one run whose id starts with it (at least 4 digits).
    /// </summary>
    /// <exception cref="TrackingException">No run, or several runs, match.</exception>
    public RunInfo GetRun(string idOrPrefix)
    {
        ArgumentException.ThrowIfNullOrEmpty(idOrPrefix);
        string prefix = idOrPrefix.ToLowerInvariant();
        lock (gate)
        {
            using var query = Command($"SELECT {RunColumns} FROM runs WHERE id = $id OR ($allowPrefix AND id >= $prefix AND id < $upper) LIMIT 2;");
            query.Parameters.AddWithValue("$id", prefix);
            query.Parameters.AddWithValue("$allowPrefix", prefix.Length >= 4);
            query.Parameters.AddWithValue("$prefix", prefix);
            query.Parameters.AddWithValue("$upper", prefix + "g"); // after every hex digit
            using var reader = query.ExecuteReader();
            var found = new List<RunInfo>();
            while (reader.Read()) found.Add(ReadRun(reader));
            var exact = found.FirstOrDefault(r => r.Id == prefix);
            if (exact is not null) return exact;
            return found.Count switch
            {
                1 => found[0],
                0 => throw new TrackingException($"{Path}: no run '{idOrPrefix}'"),
                _ => throw new TrackingException($"{Path}: '{idOrPrefix}' matches several runs; give more of the id"),
            };
        }
    }

    /// <summary>The run's parameters by key.</summary>
    public IReadOnlyDictionary<string, string> GetParams(string runId) => KeyValues("params", runId);

    /// <summary>The run's tags by key.</summary>
    public IReadOnlyDictionary<string, string> GetTags(string runId) => KeyValues("tags", runId);

    /// <summary>Each metric's value at its highest step (flushed points only).</summary>
    public IReadOnlyDictionary<string, double> GetLatestMetrics(string runId)
    {
        lock (gate)
        {
            using var query = Command("SELECT key, value FROM latest_metrics WHERE run_id = $run ORDER BY key;");
            query.Parameters.AddWithValue("$run", runId);
            using var reader = query.ExecuteReader();
            var metrics = new SortedDictionary<string, double>(StringComparer.Ordinal);
            while (reader.Read()) metrics[reader.GetString(0)] = ReadValue(reader, 1);
            return metrics;
        }
    }

    /// <summary>Latest metrics of many runs at once (for run tables): run id -> key -> value.</summary>
    public IReadOnlyDictionary<string, IReadOnlyDictionary<string, double>> GetLatestMetrics(IEnumerable<string> runIds)
    {
        var ids = runIds.ToHashSet(StringComparer.Ordinal);
        var result = ids.ToDictionary(id => id, _ => (IReadOnlyDictionary<string, double>)new SortedDictionary<string, double>(StringComparer.Ordinal));
        if (ids.Count == 0) return result;
        lock (gate)
        {
            // One scan beats thousands of point queries; the filter is in memory.
            using var query = Command("SELECT run_id, key, value FROM latest_metrics;");
            using var reader = query.ExecuteReader();
            while (reader.Read())
                if (result.TryGetValue(reader.GetString(0), out var metrics))
                    ((SortedDictionary<string, double>)metrics)[reader.GetString(1)] = ReadValue(reader, 2);
        }
        return result;
    }

    /// <summary>Every point of the run's metrics (of <paramref name="key"/> only when given), by key then step.</summary>
    public IReadOnlyList<MetricPoint> GetMetricHistory(string runId, string? key = null)
    {
        lock (gate)
        {
            using var query = Command($"""
                SELECT k.name, p.step, p.value, p.timestamp_ms FROM metric_points AS p JOIN metric_keys AS k ON k.id = p.key
                WHERE p.run = (SELECT number FROM run_numbers WHERE run_id = $run) {(key is null ? "" : "AND k.name = $key")}
                ORDER BY k.name, p.step, p.id;
                """);
            query.Parameters.AddWithValue("$run", runId);
            if (key is not null) query.Parameters.AddWithValue("$key", key);
            using var reader = query.ExecuteReader();
            var points = new List<MetricPoint>();
            while (reader.Read()) points.Add(new MetricPoint(reader.GetString(0), reader.GetInt64(1), ReadValue(reader, 2), FromMs(reader.GetInt64(3))));
            return points;
        }
    }

    /// <summary>The run's artifacts, in the order they were recorded.</summary>
    public IReadOnlyList<ArtifactInfo> GetArtifacts(string runId)
    {
        lock (gate)
        {
            using var query = Command("SELECT path, kind, sha256, size, file_count FROM artifacts WHERE run_id = $run ORDER BY created_ms, path;");
            query.Parameters.AddWithValue("$run", runId);
            return ReadArtifacts(query).Select(a => a.Artifact).ToList();
        }
    }

    /// <summary>Runs that recorded an artifact at <paramref name="path"/> (full path) or with content hash <paramref name="sha256"/>.</summary>
    public IReadOnlyList<(string RunId, ArtifactInfo Artifact)> FindArtifacts(string? path, string? sha256)
    {
        lock (gate)
        {
            using var query = Command("SELECT path, kind, sha256, size, file_count, run_id FROM artifacts WHERE path = $path OR sha256 = $sha ORDER BY created_ms;");
            query.Parameters.AddWithValue("$path", (object?)path ?? DBNull.Value);
            query.Parameters.AddWithValue("$sha", (object?)sha256 ?? DBNull.Value);
            return ReadArtifacts(query);
        }
    }

    /// <summary>The environment recorded for the run, or null.</summary>
    public Capture.RunEnvironment? GetEnvironment(string runId)
    {
        lock (gate)
        {
            using var query = Command("SELECT json FROM environments WHERE run_id = $run;");
            query.Parameters.AddWithValue("$run", runId);
            return query.ExecuteScalar() is string json ? Capture.RunEnvironment.FromJson(json) : null;
        }
    }

    /// <summary>The datasets the run read, by name.</summary>
    public IReadOnlyList<DatasetInfo> GetDatasets(string runId)
    {
        lock (gate)
        {
            using var query = Command("SELECT name, source, revision, sha256, size, file_count FROM datasets WHERE run_id = $run ORDER BY name;");
            query.Parameters.AddWithValue("$run", runId);
            using var reader = query.ExecuteReader();
            var list = new List<DatasetInfo>();
            while (reader.Read())
                list.Add(new DatasetInfo(reader.GetString(0), reader.GetString(1), reader.IsDBNull(2) ? null : reader.GetString(2), reader.GetString(3), reader.GetInt64(4), reader.GetInt32(5)));
            return list;
        }
    }

    static List<(string RunId, ArtifactInfo Artifact)> ReadArtifacts(SqliteCommand query)
    {
        using var reader = query.ExecuteReader();
        var list = new List<(string, ArtifactInfo)>();
        while (reader.Read())
        {
            var kind = Enum.TryParse<ArtifactKind>(reader.GetString(1), out var k) ? k : ArtifactKind.Other;
            var artifact = new ArtifactInfo(reader.GetString(0), kind, reader.GetString(2), reader.GetInt64(3), reader.GetInt32(4));
            list.Add((reader.FieldCount > 5 ? reader.GetString(5) : "", artifact));
        }
        return list;
    }

    IReadOnlyDictionary<string, string> KeyValues(string table, string runId)
    {
        lock (gate)
        {
            using var query = Command($"SELECT key, value FROM {table} WHERE run_id = $run ORDER BY key;");
            query.Parameters.AddWithValue("$run", runId);
            using var reader = query.ExecuteReader();
            var values = new SortedDictionary<string, string>(StringComparer.Ordinal);
            while (reader.Read()) values[reader.GetString(0)] = reader.GetString(1);
            return values;
        }
    }

    static RunInfo ReadRun(SqliteDataReader reader) => new(
        Id: reader.GetString(0),
        ExperimentId: reader.GetInt64(1),
        Name: reader.GetString(2),
        Status: ParseStatus(reader.GetString(3)),
        StartTime: FromMs(reader.GetInt64(4)),
        EndTime: reader.IsDBNull(5) ? null : FromMs(reader.GetInt64(5)),
        CommandLine: reader.GetString(6),
        Arguments: JsonSerializer.Deserialize(reader.GetString(7), Tessera.Tracking.TrackingJsonContext.Default.IReadOnlyListString) ?? [],
        ParentId: reader.IsDBNull(8) ? null : reader.GetString(8),
        Host: reader.GetString(9),
        ProcessId: reader.GetInt32(10),
        LastHeartbeat: FromMs(reader.GetInt64(11)));
}
