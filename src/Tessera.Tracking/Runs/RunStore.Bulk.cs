namespace Tessera.Tracking.Runs;

// Reads for run tables (the dashboard): one query for many runs instead of one per run.
public sealed partial class RunStore
{
    /// <summary>Parameters of many runs at once: run id -> key -> value (runs without any map to an empty dictionary).</summary>
    public IReadOnlyDictionary<string, IReadOnlyDictionary<string, string>> GetParams(IEnumerable<string> runIds) => KeyValues("params", runIds);

    /// <summary>Tags of many runs at once: run id -> key -> value (runs without any map to an empty dictionary).</summary>
    public IReadOnlyDictionary<string, IReadOnlyDictionary<string, string>> GetTags(IEnumerable<string> runIds) => KeyValues("tags", runIds);

    /// <summary>
    /// The run's metric points written after row <paramref name="afterRow"/> (0: all), with the row of the last one (rows
    /// increase within a run): a reader that polls a running run asks for only what is new.
    /// </summary>
    public (IReadOnlyList<MetricPoint> Points, long LastRow) GetMetricHistorySince(string runId, long afterRow)
    {
        lock (gate)
        {
            using var query = Command("""
                SELECT k.name, p.step, p.value, p.timestamp_ms, p.id FROM metric_points AS p JOIN metric_keys AS k ON k.id = p.key
                WHERE p.run = (SELECT number FROM run_numbers WHERE run_id = $run) AND p.id > $after ORDER BY p.id;
                """);
            query.Parameters.AddWithValue("$run", runId);
            query.Parameters.AddWithValue("$after", afterRow);
            using var reader = query.ExecuteReader();
            var points = new List<MetricPoint>();
            long last = afterRow;
            while (reader.Read())
            {
                points.Add(new MetricPoint(reader.GetString(0), reader.GetInt64(1), ReadValue(reader, 2), FromMs(reader.GetInt64(3))));
                last = reader.GetInt64(4);
            }
            return (points, last);
        }
    }

    IReadOnlyDictionary<string, IReadOnlyDictionary<string, string>> KeyValues(string table, IEnumerable<string> runIds)
    {
        var result = runIds.Distinct(StringComparer.Ordinal).ToDictionary(id => id, _ => (IReadOnlyDictionary<string, string>)new SortedDictionary<string, string>(StringComparer.Ordinal), StringComparer.Ordinal);
        if (result.Count == 0) return result;
        lock (gate)
        {
            using var query = Command($"SELECT run_id, key, value FROM {table};");
            using var reader = query.ExecuteReader();
            while (reader.Read())
                if (result.TryGetValue(reader.GetString(0), out var values))
                    ((SortedDictionary<string, string>)values)[reader.GetString(1)] = reader.GetString(2);
        }
        return result;
    }
}
