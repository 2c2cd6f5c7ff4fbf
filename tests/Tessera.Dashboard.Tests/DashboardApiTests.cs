using System.Net;
using System.Text.Json;
using Tessera.Tracking.Runs;

namespace Tessera.Dashboard.Tests;

/// <summary>The JSON API over a store the test fills, through a real server on 127.0.0.1.</summary>
public sealed class DashboardApiTests : IAsyncLifetime
{
    readonly SampleStore sample = new();
    DashboardServer server = null!;
    HttpClient http = null!;

    public async ValueTask InitializeAsync()
    {
        server = new DashboardServer(new DashboardOptions { Port = 0, MaxChartPoints = 1000 }, sample.Path);
        await server.StartAsync(TestContext.Current.CancellationToken);
        http = new HttpClient { BaseAddress = server.Address };
    }

    public async ValueTask DisposeAsync()
    {
        http.Dispose();
        await server.DisposeAsync();
        sample.Dispose();
    }

    async Task<JsonElement> Get(string path, HttpStatusCode expected = HttpStatusCode.OK)
    {
        using var response = await http.GetAsync(path, TestContext.Current.CancellationToken);
        string body = await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken);
        Assert.True(response.StatusCode == expected, $"{path}: {(int)response.StatusCode} {body}");
        Assert.StartsWith("application/json", response.Content.Headers.ContentType?.ToString());
        return JsonDocument.Parse(body).RootElement.Clone();
    }

    static string[] Ids(JsonElement runs) => [.. runs.GetProperty("runs").EnumerateArray().Select(r => r.GetProperty("id").GetString()!)];

    [Fact]
    public void Binds_only_this_machine_by_default()
    {
        Assert.Equal("127.0.0.1", new DashboardOptions().Host);
        Assert.Equal(5000, new DashboardOptions().Port);
        Assert.Equal("127.0.0.1", server.Address!.Host);
        Assert.Throws<ArgumentException>(() => new DashboardServer(new DashboardOptions { Host = "example.org" }, sample.Path));
        var missing = Path.Combine(Path.GetTempPath(), "no-such-dir-" + Guid.NewGuid().ToString("N"), "runs.db");
        var e = Assert.Throws<FileNotFoundException>(() => new DashboardServer(new DashboardOptions(), missing));
        Assert.Contains(missing, e.Message);
        Assert.False(File.Exists(missing)); // a read-only dashboard does not create a store
    }

    [Fact]
    public async Task Runs_lists_every_run_newest_first_with_status_latest_metrics_and_tags()
    {
        var runs = await Get("/api/runs");
        Assert.Equal(3, runs.GetProperty("total").GetInt32());
        Assert.Equal(sample.Store.ListRuns().Select(r => r.Id), Ids(runs));
        var cnn = runs.GetProperty("runs").EnumerateArray().Single(r => r.GetProperty("id").GetString() == sample.CnnId);
        Assert.Equal("train-cnn", cnn.GetProperty("name").GetString());
        Assert.Equal("train", cnn.GetProperty("experiment").GetString());
        Assert.Equal("FINISHED", cnn.GetProperty("status").GetString());
        Assert.Equal(SampleStore.CnnLoss(SampleStore.LossSteps), cnn.GetProperty("metrics").GetProperty("train_loss").GetDouble());
        Assert.Equal(0.75, cnn.GetProperty("metrics").GetProperty("val_acc").GetDouble());
        Assert.Equal("vision", cnn.GetProperty("tags").GetProperty("team").GetString());
        Assert.True(cnn.GetProperty("duration_s").GetDouble() >= 0);
        var running = runs.GetProperty("runs").EnumerateArray().Single(r => r.GetProperty("id").GetString() == sample.Running.Id);
        Assert.Equal("RUNNING", running.GetProperty("status").GetString());
        Assert.Equal(JsonValueKind.Null, running.GetProperty("end").ValueKind);
    }

    [Fact]
    public async Task Filters_by_parameter_tag_name_status_and_experiment()
    {
        Assert.Equal([sample.CnnId], Ids(await Get("/api/runs?filter=lr%3D0.001")));
        Assert.Equal([sample.MlpId], Ids(await Get("/api/runs?filter=param.lr%3D0.003")));
        Assert.Equal([sample.CnnId], Ids(await Get("/api/runs?filter=tag.team%3Dvision")));
        Assert.Empty(Ids(await Get("/api/runs?filter=param.team%3Dvision"))); // a tag, not a parameter
        Assert.Empty(Ids(await Get("/api/runs?filter=model%3Dcnn+MLP"))); // every term must match
        Assert.Equal(2, Ids(await Get("/api/runs?filter=model%3Dcnn")).Length); // the CNN run and the running one
        Assert.Equal([sample.MlpId], Ids(await Get("/api/runs?filter=MLP")));
        Assert.Equal([sample.Running.Id], Ids(await Get("/api/runs?status=running")));
        Assert.Equal([sample.Running.Id], Ids(await Get("/api/runs?experiment=eval")));
        Assert.Single(Ids(await Get("/api/runs?limit=1")));
        var bad = await Get("/api/runs?status=paused", HttpStatusCode.BadRequest);
        Assert.Contains("RUNNING", bad.GetProperty("error").GetString());
        await Get("/api/runs?limit=-3", HttpStatusCode.BadRequest);
    }

    [Fact]
    public async Task A_run_has_params_environment_datasets_artifacts_card_and_images()
    {
        var run = await Get($"/api/runs/{sample.CnnId[..8]}"); // a unique prefix is enough
        Assert.Equal(sample.CnnId, run.GetProperty("id").GetString());
        Assert.Equal("0.001", run.GetProperty("params").GetProperty("lr").GetString());
        Assert.Equal("tessera train fashion-mnist --model cnn", run.GetProperty("command_line").GetString());
        Assert.Equal("<redacted>", run.GetProperty("environment").GetProperty("HF_TOKEN").GetString());
        var dataset = Assert.Single(run.GetProperty("datasets").EnumerateArray());
        Assert.Equal("toy-data", dataset.GetProperty("name").GetString());
        Assert.Equal(sample.Store.GetDatasets(sample.CnnId)[0].Sha256, dataset.GetProperty("sha256").GetString());
        Assert.Equal(["ModelFolder", "Plot"], run.GetProperty("artifacts").EnumerateArray().Select(a => a.GetProperty("kind").GetString()).Order());
        Assert.True(run.GetProperty("has_card").GetBoolean());
        var image = Assert.Single(run.GetProperty("images").EnumerateArray());
        Assert.Equal("samples.png", image.GetProperty("name").GetString());

        byte[] png = await http.GetByteArrayAsync(image.GetProperty("url").GetString(), TestContext.Current.CancellationToken);
        Assert.Equal(await File.ReadAllBytesAsync(sample.ImagePath, TestContext.Current.CancellationToken), png);
        await Get($"/api/runs/{sample.CnnId}/images/1", HttpStatusCode.NotFound);

        var mlp = await Get($"/api/runs/{sample.MlpId}");
        Assert.False(mlp.GetProperty("has_card").GetBoolean());
        Assert.Empty(mlp.GetProperty("images").EnumerateArray());
        await Get($"/api/runs/{sample.MlpId}/card", HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task The_model_card_is_rendered_as_html_with_its_text_escaped()
    {
        var card = await Get($"/api/runs/{sample.CnnId}/card");
        string html = card.GetProperty("html").GetString()!;
        Assert.Contains("<h1>Fashion-MNIST CNN</h1>", html);
        Assert.Contains("<strong>small</strong>", html);
        Assert.Contains("<a href=\"https://example.org/docs\" rel=\"noopener noreferrer\">the docs</a>", html);
        Assert.DoesNotContain("javascript:", html);
        Assert.Contains("<td>0.91</td>", html);
        Assert.Contains("library_name: tessera", html); // the front matter, as a code block
        Assert.DoesNotContain("<script", html);
        Assert.Contains("&lt;script&gt;", html);
    }

    [Fact]
    public async Task Metrics_are_the_logged_points_and_a_poll_after_the_last_row_gets_only_new_ones()
    {
        var metrics = await Get($"/api/runs/{sample.CnnId}/metrics");
        var loss = metrics.GetProperty("series").GetProperty("train_loss").EnumerateArray().Select(p => (p[0].GetInt64(), p[1].GetDouble())).ToList();
        Assert.Equal(Enumerable.Range(1, SampleStore.LossSteps).Select(s => ((long)s, SampleStore.CnnLoss(s))), loss);
        Assert.Equal(5, metrics.GetProperty("series").GetProperty("val_acc").GetArrayLength());

        var first = await Get($"/api/runs/{sample.Running.Id}/metrics");
        Assert.Equal("RUNNING", first.GetProperty("status").GetString());
        Assert.Equal(5, first.GetProperty("series").GetProperty("train_loss").GetArrayLength());
        long lastRow = first.GetProperty("last_row").GetInt64();
        var none = await Get($"/api/runs/{sample.Running.Id}/metrics?after={lastRow}");
        Assert.Empty(none.GetProperty("series").EnumerateObject());
        Assert.Equal(lastRow, none.GetProperty("last_row").GetInt64());

        sample.Running.LogMetric("train_loss", 0.25, 6);
        sample.Running.LogMetric("lr", 1e-3, 6);
        sample.Running.Flush();
        var fresh = await Get($"/api/runs/{sample.Running.Id}/metrics?after={lastRow}");
        Assert.Equal([6.0, 0.25], fresh.GetProperty("series").GetProperty("train_loss").EnumerateArray().Single().EnumerateArray().Select(v => v.GetDouble()));
        Assert.Equal(1e-3, fresh.GetProperty("series").GetProperty("lr")[0][1].GetDouble());
        Assert.True(fresh.GetProperty("last_row").GetInt64() > lastRow);
        await Get($"/api/runs/{sample.Running.Id}/metrics?after=x", HttpStatusCode.BadRequest);
    }

    [Fact]
    public void Long_histories_are_thinned_evenly_keeping_both_ends()
    {
        var points = Enumerable.Range(0, 10_001).Select(i => new double[] { i, i * 2 }).ToList();
        var thinned = DashboardApi.Thin(points, 1000);
        Assert.Equal(1000, thinned.Count);
        Assert.Equal(0, thinned[0][0]);
        Assert.Equal(10_000, thinned[^1][0]);
        Assert.True(thinned.Zip(thinned.Skip(1)).All(p => p.Second[0] - p.First[0] is >= 10 and <= 11));
        Assert.Same(points, DashboardApi.Thin(points, 20_000));
    }

    [Fact]
    public async Task Compare_puts_parameters_and_final_metrics_side_by_side_and_marks_differences()
    {
        var compare = await Get($"/api/compare?ids={sample.CnnId},{sample.MlpId}");
        Assert.Equal([sample.CnnId, sample.MlpId], compare.GetProperty("runs").EnumerateArray().Select(r => r.GetProperty("id").GetString()));
        var parameters = compare.GetProperty("params").EnumerateArray().ToDictionary(p => p.GetProperty("key").GetString()!);
        Assert.True(parameters["lr"].GetProperty("differs").GetBoolean());
        Assert.Equal(["0.001", "0.003"], parameters["lr"].GetProperty("values").EnumerateArray().Select(v => v.GetString()));
        Assert.False(parameters["epochs"].GetProperty("differs").GetBoolean());
        var metrics = compare.GetProperty("metrics").EnumerateArray().ToDictionary(p => p.GetProperty("key").GetString()!);
        Assert.Equal([0.75, 0.81], metrics["val_acc"].GetProperty("values").EnumerateArray().Select(v => v.GetDouble()));
        await Get($"/api/compare?ids={sample.CnnId}", HttpStatusCode.BadRequest);
    }

    [Fact]
    public async Task Unknown_runs_are_404_writes_are_refused_and_the_page_is_served_from_the_assembly()
    {
        var missing = await Get("/api/runs/ffffffffffffffffffffffffffffffff", HttpStatusCode.NotFound);
        Assert.Contains("no run", missing.GetProperty("error").GetString());
        await Get("/api/compare?ids=ffff0000,eeee0000", HttpStatusCode.NotFound);
        await Get("/api/nothing-here", HttpStatusCode.NotFound);

        using var post = await http.PostAsync("/api/runs", new StringContent("{}"), TestContext.Current.CancellationToken);
        Assert.Equal(HttpStatusCode.MethodNotAllowed, post.StatusCode);
        using var delete = await http.DeleteAsync($"/api/runs/{sample.CnnId}", TestContext.Current.CancellationToken);
        Assert.Equal(HttpStatusCode.MethodNotAllowed, delete.StatusCode);
        Assert.Equal(3, sample.Store.ListRuns().Count);

        using var page = await http.GetAsync("/", TestContext.Current.CancellationToken);
        Assert.Equal(HttpStatusCode.OK, page.StatusCode);
        Assert.Equal("text/html", page.Content.Headers.ContentType?.MediaType);
        string csp = string.Join(";", page.Headers.GetValues("Content-Security-Policy"));
        Assert.Contains("default-src 'self'", csp);
        string html = await page.Content.ReadAsStringAsync(TestContext.Current.CancellationToken);
        foreach (string asset in (string[])["/app.js", "/app.css"])
        {
            Assert.Contains(asset, html);
            string text = await http.GetStringAsync(asset, TestContext.Current.CancellationToken);
            Assert.NotEmpty(text);
            // Nothing is loaded from elsewhere: the only absolute URL in the page's code is the SVG namespace name.
            Assert.DoesNotContain("https://", text);
            Assert.All(System.Text.RegularExpressions.Regex.Matches(text, @"http://[^""'\s)]*").Select(m => m.Value), url => Assert.Equal("http://www.w3.org/2000/svg", url));
        }
    }

    [Fact]
    public async Task A_run_killed_while_the_dashboard_is_open_is_shown_as_killed_not_running()
    {
        // A run from another machine whose heartbeat stopped long ago: the store marks it when the table is read.
        using (var command = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={sample.Path};Pooling=false"))
        {
            command.Open();
            using var insert = command.CreateCommand();
            insert.CommandText = "INSERT INTO runs(id, experiment_id, name, status, start_ms, end_ms, command_line, arguments, parent_id, host, pid, process_start_ms, heartbeat_ms) " +
                "VALUES('abcdefabcdefabcdefabcdefabcdefab', 1, 'lost', 'RUNNING', 1000, NULL, '', '[]', NULL, 'another-host', 1, 0, 1000);";
            insert.ExecuteNonQuery();
        }
        var runs = await Get("/api/runs?filter=lost");
        Assert.Equal("KILLED", runs.GetProperty("runs")[0].GetProperty("status").GetString());
        Assert.Equal(RunStatus.Killed, sample.Store.GetRun("abcdefab").Status);
    }
}
