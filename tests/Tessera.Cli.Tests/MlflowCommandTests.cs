using Tessera.Tests.Mlflow;
using Tessera.Tracking.Runs;

namespace Tessera.Cli.Tests;

public sealed class MlflowCommandTests : IAsyncLifetime
{
    readonly TempDirectory temp = new("tessera-cli-mlflow-");
    FakeMlflowServer server = null!;

    public async ValueTask InitializeAsync() => server = await FakeMlflowServer.StartAsync();

    public async ValueTask DisposeAsync()
    {
        await server.DisposeAsync();
        temp.Dispose();
    }

    string ServerUri => server.Url.ToString().TrimEnd('/');

    [Fact]
    [Trait("Category", "Slow")]
    public void A_cli_training_arrives_in_mlflow_with_params_metrics_card_and_status_and_stays_in_the_local_store()
    {
        Requires.FashionMnist();
        string output = temp.File("run");
        var (code, _, err) = CliRunner.Run("train", "fashion-mnist", "--model", "mlp", "--epochs", "1", "--limit-train", "256", "--val-size", "64",
            "--out", output, "--threads", "1", "--tracking-uri", ServerUri);
        Assert.True(code == 0, err);
        Assert.DoesNotContain("warning", err);
        Assert.Empty(server.Violations);

        var run = Assert.Single(server.Runs.Values);
        Assert.Equal("train", server.ExperimentName(run.ExperimentId));
        Assert.Equal("FINISHED", run.Status);
        Assert.NotNull(run.EndTime);
        Assert.Equal("1", run.Params["epochs"]);
        Assert.Equal("256", run.Params["limit-train"]);
        Assert.Equal("mlp", run.Params["model"]);
        Assert.Contains(run.Metrics, m => m.Key == "val_acc" && m.Value is > 0 and <= 1);
        Assert.Contains("train fashion-mnist --model mlp", run.Tags["tessera.command_line"]);
        Assert.Equal("0", run.Tags["tessera.exit_code"]);
        Assert.Contains("fashion-mnist", run.Tags.Keys.Single(k => k.StartsWith("tessera.dataset.", StringComparison.Ordinal)));
        Assert.StartsWith("---", System.Text.Encoding.UTF8.GetString(server.Artifacts[$"{run.ExperimentId}/{run.Id}/artifacts/model/README.md"]));
        Assert.Contains($"/#/experiments/{run.ExperimentId}/runs/{run.Id}", err);

        // The runs store (TESSERA_TRACKING_URI, see TrackingIsolation) has the same run, with the same final metrics.
        using var store = RunStore.Open();
        var local = store.GetRun(run.Tags["tessera.run_id"]);
        Assert.Equal(RunStatus.Finished, local.Status);
        Assert.Equal(store.GetMetricHistory(local.Id).Count, run.Metrics.Count);
        Assert.Equal(store.GetLatestMetrics(local.Id)["val_acc"], run.Metrics.Last(m => m.Key == "val_acc").Value);
    }

    [Fact]
    public void A_training_sends_its_metrics_while_it_runs_not_only_when_the_command_ends()
    {
        string data = temp.File("fortunes");
        File.WriteAllText(data, string.Join("\n%\n", Enumerable.Range(0, 200).Select(i => $"You will meet a tall stranger number {i}.")) + "\n%\n");
        var (code, _, err) = CliRunner.Run("train", "lm", "--data", data, "--max-steps", "4", "--batch-size", "4", "--block-size", "32",
            "--validate-every", "2", "--out", temp.File("lm"), "--tracking-uri", ServerUri);
        Assert.True(code == 0, err);
        Assert.DoesNotContain("warning", err);
        Assert.Empty(server.Violations);
        var run = Assert.Single(server.Runs.Values);
        Assert.Equal("FINISHED", run.Status);

        // The requests in arrival order: metric batches came in before the command's end was known (the exit code tag,
        // set when the command returns, travels with the final batch) and so before the run was marked FINISHED.
        var requests = server.Requests.ToList();
        int Index(Func<FakeMlflowServer.Seen, bool> match) => requests.FindIndex(r => match(r));
        static System.Text.Json.JsonElement Body(FakeMlflowServer.Seen r) => System.Text.Json.JsonDocument.Parse(r.Body).RootElement;
        static bool IsBatch(FakeMlflowServer.Seen r) => r.Path.EndsWith("runs/log-batch", StringComparison.Ordinal) && r.Status == 200;
        static bool HasMetrics(FakeMlflowServer.Seen r) => Body(r).TryGetProperty("metrics", out var m) && m.GetArrayLength() > 0;
        static bool HasExitCode(FakeMlflowServer.Seen r) =>
            Body(r).TryGetProperty("tags", out var t) && t.EnumerateArray().Any(x => x.GetProperty("key").GetString() == "tessera.exit_code");
        int firstMetrics = Index(r => IsBatch(r) && HasMetrics(r));
        int exitCode = Index(r => IsBatch(r) && HasExitCode(r));
        int finished = Index(r => r.Path.EndsWith("runs/update", StringComparison.Ordinal) && Body(r).GetProperty("status").GetString() == "FINISHED");
        Assert.True(firstMetrics >= 0 && exitCode > firstMetrics && finished > exitCode, $"metrics {firstMetrics}, exit code {exitCode}, finished {finished}");
        Assert.False(HasExitCode(requests[firstMetrics]));
        Assert.Contains(Body(requests[firstMetrics]).GetProperty("metrics").EnumerateArray(), m => m.GetProperty("key").GetString() == "train_loss");

        // Each point arrived once: the end of the command sends only what the live batches did not.
        Assert.Equal(run.Metrics.Count, run.Metrics.Select(m => (m.Key, m.Step)).Distinct().Count());
        using var store = RunStore.Open();
        var local = store.GetRun(run.Tags["tessera.run_id"]);
        Assert.Equal(store.GetMetricHistory(local.Id).Select(p => (p.Key, p.Step, p.Value)).Order(), run.Metrics.Select(m => (m.Key, m.Step, m.Value)).Order());
    }

    [Fact]
    public void A_failing_command_arrives_as_failed_with_its_error()
    {
        var (code, _, _) = CliRunner.Run("eval", temp.File("no-such-model"), "--tracking-uri", ServerUri);
        Assert.NotEqual(0, code);
        Assert.Empty(server.Violations);
        var run = Assert.Single(server.Runs.Values);
        Assert.Equal("FAILED", run.Status);
        Assert.Contains("no-such-model", run.Tags["tessera.error"]);
        Assert.Equal(temp.File("no-such-model"), run.Params["model"]);
    }

    [Fact]
    public void An_unreachable_server_is_one_warning_and_the_run_is_still_recorded_locally()
    {
        using var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        int port = ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        var (code, _, err) = CliRunner.Run("eval", temp.File("no-such-model"), "--tracking-uri", $"http://127.0.0.1:{port}");
        Assert.NotEqual(0, code);
        Assert.Contains($"is not sent to MLflow at http://127.0.0.1:{port}", err);
        Assert.Contains("cannot reach the tracking server", err);
        Assert.Single(err.Split('\n'), l => l.StartsWith("warning:", StringComparison.Ordinal));
        using var local = RunStore.Open();
        Assert.Contains(local.ListRuns(), r => r.Arguments.Contains($"http://127.0.0.1:{port}") && r.Status == RunStatus.Failed);
    }

    [Fact]
    public void An_http_tracking_uri_sends_to_mlflow_and_keeps_the_local_store()
    {
        Assert.Equal(((string?)null, "http://h:5000"), CliMlflow.SplitTrackingUri("http://h:5000"));
        Assert.Equal(("runs.db", (string?)null), CliMlflow.SplitTrackingUri("runs.db"));
    }

    [Fact]
    public void Runs_export_writes_the_mlruns_layout()
    {
        string storePath = temp.File("store.db");
        string id;
        using (var store = RunStore.Open(storePath))
        using (var run = store.StartRun(new RunStartOptions { Experiment = "bench", Name = "bench-x" }))
        {
            id = run.Id;
            run.LogParam("batch", "8");
            run.LogMetric("throughput", 123.5, 0);
        }
        string dir = temp.File("mlruns");
        var (code, output, err) = CliRunner.Run("runs", "export", "--mlflow", dir, id[..6], "--tracking-uri", storePath);
        Assert.True(code == 0, err);
        Assert.Contains("exported 1 run(s)", output);
        string runDir = Directory.GetDirectories(dir, id, SearchOption.AllDirectories).Single();
        Assert.Equal("8", File.ReadAllText(Path.Combine(runDir, "params", "batch")));
        Assert.Matches(@"^\d+ 123\.5 0\n$", File.ReadAllText(Path.Combine(runDir, "metrics", "throughput")));
        Assert.Contains("name: \"bench\"", File.ReadAllText(Path.Combine(Path.GetDirectoryName(runDir)!, "meta.yaml")));

        var missing = CliRunner.Run("runs", "export", "--mlflow", dir, "ffffffff", "--tracking-uri", storePath);
        Assert.Equal(Cli.FailureExitCode, missing.Code);
        Assert.Contains("no run 'ffffffff'", missing.Err);
    }
}
