using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Tessera.Tracking;
using Tessera.Tracking.Runs;

namespace Tessera.Dashboard;

/// <summary>
/// The dashboard's read-only JSON API over a <see cref="RunStore"/> (snake_case fields, times in Unix milliseconds):
/// <list type="bullet">
/// <item><c>GET /api/info</c>: the store path, the refresh interval.</item>
/// <item><c>GET /api/runs?filter=&amp;status=&amp;experiment=&amp;limit=</c>: runs, newest first, with latest metrics and tags.
/// <c>filter</c> holds space-separated terms, all of which must match: <c>key=value</c> (a parameter or tag with that
/// value; <c>param.key=value</c> or <c>tag.key=value</c> for one kind only) or text found in the run's name or id.</item>
/// <item><c>GET /api/runs/{id}</c>: one run (id or unique prefix) with parameters, tags, latest metrics, environment,
/// artifacts, datasets, whether it has a model card, and its sample images.</item>
/// <item><c>GET /api/runs/{id}/metrics?after=ROW</c>: metric series by key as [step, value] pairs, with <c>last_row</c>;
/// pass it back as <c>after</c> to get only newer points (a running run). A full history longer than
/// <see cref="DashboardOptions.MaxChartPoints"/> per key is thinned evenly.</item>
/// <item><c>GET /api/runs/{id}/card</c>: the model card (README.md of the run's model folder artifact) as safe HTML.</item>
/// <item><c>GET /api/runs/{id}/images/{n}</c>: the n-th sample image (a PNG artifact, or a PNG in an artifact folder).</item>
/// <item><c>GET /api/compare?ids=a,b</c>: runs side by side: every parameter and final metric with each run's value and
/// whether they differ.</item>
/// </list>
/// A run that does not exist is 404, a bad query 400, both with <c>{"error": "..."}</c>.
/// </summary>
public sealed class DashboardApi
{
    /// <summary>Most sample images listed per run.</summary>
    public const int MaxImages = 64;

    static readonly JsonSerializerOptions json = new(JsonSerializerDefaults.Web)
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        NumberHandling = System.Text.Json.Serialization.JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };

    readonly RunStore store;
    readonly DashboardOptions options;
    long lastStaleCheck = long.MinValue;

    /// <summary>An API over <paramref name="store"/> (which the caller owns).</summary>
    public DashboardApi(RunStore store, DashboardOptions options)
    {
        this.store = store;
        this.options = options;
    }

    /// <summary>Maps the endpoints on <paramref name="app"/>.</summary>
    public void Map(WebApplication app)
    {
        app.MapGet("/api/info", (HttpContext c) => Write(c, new { store = store.Path, refresh_ms = (long)options.RefreshInterval.TotalMilliseconds, schema_version = store.SchemaVersion }));
        app.MapGet("/api/runs", Runs);
        app.MapGet("/api/runs/{id}", (HttpContext c, string id) => Guard(c, () => Run(c, id)));
        app.MapGet("/api/runs/{id}/metrics", (HttpContext c, string id) => Guard(c, () => Metrics(c, id)));
        app.MapGet("/api/runs/{id}/card", (HttpContext c, string id) => Guard(c, () => Card(c, id)));
        app.MapGet("/api/runs/{id}/images/{index:int}", (HttpContext c, string id, int index) => Guard(c, () => Image(c, id, index)));
        app.MapGet("/api/compare", (HttpContext c) => Guard(c, () => Compare(c)));
        app.MapGet("/api/{**rest}", (HttpContext c) => Error(c, StatusCodes.Status404NotFound, $"no API endpoint {c.Request.Path}"));
    }

    Task Runs(HttpContext context)
    {
        MarkStaleRuns();
        var query = context.Request.Query;
        int? limit = null;
        if (query["limit"].ToString() is { Length: > 0 } limitText)
        {
            if (!int.TryParse(limitText, NumberStyles.None, CultureInfo.InvariantCulture, out int l) || l < 1)
                return Error(context, StatusCodes.Status400BadRequest, $"limit must be a positive integer (got '{limitText}')");
            limit = l;
        }
        RunStatus? status = null;
        if (query["status"].ToString() is { Length: > 0 } statusText)
        {
            if (!Enum.TryParse<RunStatus>(statusText, ignoreCase: true, out var s))
                return Error(context, StatusCodes.Status400BadRequest, $"status must be one of {string.Join(", ", Enum.GetNames<RunStatus>().Select(n => n.ToUpperInvariant()))} (got '{statusText}')");
            status = s;
        }
        var experiments = store.ListExperiments().ToDictionary(e => e.Id, e => e.Name);
        string experiment = query["experiment"].ToString();
        var filter = RunFilter.Parse(query["filter"].ToString());

        var runs = store.ListRuns().Where(r => status is null || r.Status == status)
            .Where(r => experiment.Length == 0 || experiments.GetValueOrDefault(r.ExperimentId) == experiment).ToList();
        var ids = runs.Select(r => r.Id).ToList();
        var tags = store.GetTags(ids);
        var parameters = filter.NeedsParams ? store.GetParams(ids) : null;
        runs = [.. runs.Where(r => filter.Matches(r, parameters?[r.Id], tags[r.Id]))];
        int total = runs.Count;
        if (limit is int n) runs = runs.Take(n).ToList();
        var metrics = store.GetLatestMetrics(runs.Select(r => r.Id));
        return Write(context, new
        {
            total,
            runs = runs.Select(r => new
            {
                Summary = Summary(r, experiments),
                metrics = metrics[r.Id],
                tags = tags[r.Id],
            }).Select(x => Merge(x.Summary, new { x.metrics, x.tags })),
        });
    }

    Task Run(HttpContext context, string id)
    {
        var run = store.GetRun(id);
        var experiments = store.ListExperiments().ToDictionary(e => e.Id, e => e.Name);
        var artifacts = store.GetArtifacts(run.Id);
        return Write(context, Merge(Summary(run, experiments), new
        {
            command_line = run.CommandLine,
            arguments = run.Arguments,
            parent_id = run.ParentId,
            host = run.Host,
            pid = run.ProcessId,
            last_heartbeat = run.LastHeartbeat.ToUnixTimeMilliseconds(),
            @params = store.GetParams(run.Id),
            tags = store.GetTags(run.Id),
            metrics = store.GetLatestMetrics(run.Id),
            environment = store.GetEnvironment(run.Id)?.Values ?? new Dictionary<string, string>(),
            artifacts = artifacts.Select(a => new { path = a.Path, kind = a.Kind.ToString(), sha256 = a.Sha256, size = a.Size, file_count = a.FileCount }),
            datasets = store.GetDatasets(run.Id).Select(d => new { name = d.Name, source = d.Source, revision = d.Revision, sha256 = d.Sha256, size = d.Size, file_count = d.FileCount }),
            has_card = ModelCardPath(artifacts) is not null,
            images = Images(artifacts).Select((path, i) => new { index = i, name = Path.GetFileName(path), url = $"/api/runs/{run.Id}/images/{i}" }),
        }));
    }

    Task Metrics(HttpContext context, string id)
    {
        var run = store.GetRun(id);
        string afterText = context.Request.Query["after"].ToString();
        long after = 0;
        if (afterText.Length > 0 && (!long.TryParse(afterText, NumberStyles.None, CultureInfo.InvariantCulture, out after)))
            return Error(context, StatusCodes.Status400BadRequest, $"after must be a row number from an earlier answer's last_row (got '{afterText}')");
        var (points, lastRow) = store.GetMetricHistorySince(run.Id, after);
        var series = new SortedDictionary<string, List<double[]>>(StringComparer.Ordinal);
        foreach (var point in points)
        {
            if (!series.TryGetValue(point.Key, out var list)) series[point.Key] = list = [];
            list.Add([point.Step, point.Value]);
        }
        foreach (var list in series.Values) list.Sort((a, b) => a[0].CompareTo(b[0]));
        bool thinned = false;
        if (after == 0)
            foreach (string key in series.Keys.ToList())
                if (series[key].Count > options.MaxChartPoints)
                {
                    series[key] = Thin(series[key], options.MaxChartPoints);
                    thinned = true;
                }
        return Write(context, new { run_id = run.Id, status = StatusText(run.Status), last_row = lastRow, thinned, series });
    }

    /// <summary>At most <paramref name="max"/> points spread evenly over <paramref name="points"/>, first and last kept.</summary>
    internal static List<double[]> Thin(List<double[]> points, int max)
    {
        if (points.Count <= max) return points;
        var thinned = new List<double[]>(max);
        for (int i = 0; i < max; i++) thinned.Add(points[(int)((long)i * (points.Count - 1) / (max - 1))]);
        return thinned;
    }

    Task Card(HttpContext context, string id)
    {
        var run = store.GetRun(id);
        if (ModelCardPath(store.GetArtifacts(run.Id)) is not { } path)
            return Error(context, StatusCodes.Status404NotFound, $"run {run.Id} has no model folder with a README.md");
        string markdown = File.ReadAllText(path);
        return Write(context, new { path, html = ModelCardHtml.Render(markdown) });
    }

    Task Image(HttpContext context, string id, int index)
    {
        var run = store.GetRun(id);
        var images = Images(store.GetArtifacts(run.Id));
        if (index < 0 || index >= images.Count)
            return Error(context, StatusCodes.Status404NotFound, $"run {run.Id} has {images.Count} sample images; no image {index}");
        context.Response.ContentType = "image/png";
        context.Response.Headers.CacheControl = "no-cache";
        return context.Response.SendFileAsync(images[index]);
    }

    Task Compare(HttpContext context)
    {
        string[] ids = context.Request.Query["ids"].ToString().Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        if (ids.Length < 2) return Error(context, StatusCodes.Status400BadRequest, "compare needs ids=a,b (two or more run ids)");
        var experiments = store.ListExperiments().ToDictionary(e => e.Id, e => e.Name);
        var runs = ids.Select(store.GetRun).DistinctBy(r => r.Id).ToList();
        var parameters = runs.Select(r => store.GetParams(r.Id)).ToList();
        var metrics = runs.Select(r => store.GetLatestMetrics(r.Id)).ToList();
        return Write(context, new
        {
            runs = runs.Select(r => Summary(r, experiments)),
            @params = parameters.SelectMany(p => p.Keys).Distinct().Order(StringComparer.Ordinal).Select(key =>
            {
                var values = parameters.Select(p => p.GetValueOrDefault(key)).ToList();
                return new { key, values, differs = values.Distinct().Count() > 1 };
            }),
            metrics = metrics.SelectMany(m => m.Keys).Distinct().Order(StringComparer.Ordinal).Select(key =>
            {
                var values = metrics.Select(m => m.TryGetValue(key, out double v) ? v : (double?)null).ToList();
                return new { key, values, differs = values.Distinct().Count() > 1 };
            }),
        });
    }

    static Dictionary<string, object?> Summary(RunInfo run, IReadOnlyDictionary<long, string> experiments) => new()
    {
        ["id"] = run.Id,
        ["name"] = run.Name,
        ["experiment"] = experiments.GetValueOrDefault(run.ExperimentId),
        ["status"] = StatusText(run.Status),
        ["start"] = run.StartTime.ToUnixTimeMilliseconds(),
        ["end"] = run.EndTime?.ToUnixTimeMilliseconds(),
        ["duration_s"] = Math.Round(run.Duration.TotalSeconds, 3),
    };

    static Dictionary<string, object?> Merge(Dictionary<string, object?> summary, object extra)
    {
        foreach (var property in extra.GetType().GetProperties())
            summary[json.PropertyNamingPolicy!.ConvertName(property.Name.TrimStart('@'))] = property.GetValue(extra);
        return summary;
    }

    static string StatusText(RunStatus status) => status.ToString().ToUpperInvariant();

    /// <summary>The README.md of the run's first model folder (or adapter) artifact, when there is one.</summary>
    internal static string? ModelCardPath(IEnumerable<ArtifactInfo> artifacts) =>
        artifacts.Where(a => a.Kind is ArtifactKind.ModelFolder or ArtifactKind.Adapter && Directory.Exists(a.Path))
            .Select(a => Path.Combine(a.Path, "README.md")).FirstOrDefault(File.Exists);

    /// <summary>The run's PNG artifacts and the PNGs directly inside its artifact folders, in artifact order.</summary>
    internal static IReadOnlyList<string> Images(IEnumerable<ArtifactInfo> artifacts)
    {
        var images = new List<string>();
        foreach (var artifact in artifacts)
        {
            if (File.Exists(artifact.Path) && IsPng(artifact.Path)) images.Add(artifact.Path);
            else if (Directory.Exists(artifact.Path))
                images.AddRange(Directory.EnumerateFiles(artifact.Path, "*.png").Order(StringComparer.Ordinal));
        }
        return [.. images.Distinct(StringComparer.Ordinal).Take(MaxImages)];
    }

    static bool IsPng(string path) => path.EndsWith(".png", StringComparison.OrdinalIgnoreCase);

    // Opening the store marks runs whose process died as KILLED; a dashboard left open re-checks now and then.
    void MarkStaleRuns()
    {
        long now = Stopwatch.GetTimestamp();
        long last = Interlocked.Read(ref lastStaleCheck);
        if (last != long.MinValue && Stopwatch.GetElapsedTime(last, now) < TimeSpan.FromSeconds(10)) return;
        if (Interlocked.CompareExchange(ref lastStaleCheck, now, last) != last) return;
        try { store.MarkStaleRuns(); }
        catch (Microsoft.Data.Sqlite.SqliteException) { } // another process holds the write lock; the next request tries again
    }

    static async Task Guard(HttpContext context, Func<Task> handler)
    {
        try
        {
            await handler().ConfigureAwait(false);
        }
        catch (TrackingException e) when (!context.Response.HasStarted)
        {
            await Error(context, StatusCodes.Status404NotFound, e.Message).ConfigureAwait(false);
        }
        catch (IOException e) when (!context.Response.HasStarted)
        {
            await Error(context, StatusCodes.Status404NotFound, e.Message).ConfigureAwait(false);
        }
    }

    static Task Error(HttpContext context, int status, string message)
    {
        context.Response.StatusCode = status;
        return Write(context, new { error = message });
    }

    static Task Write(HttpContext context, object value)
    {
        context.Response.ContentType = "application/json; charset=utf-8";
        context.Response.Headers.CacheControl = "no-store";
        return context.Response.WriteAsync(JsonSerializer.Serialize(value, json));
    }
}
