using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Tessera.Tests.Mlflow;
using Tessera.Tracking.Mlflow;

namespace Tessera.Tracking.Tests.Mlflow;

public sealed class MlflowClientTests : IAsyncLifetime
{
    FakeMlflowServer server = null!;

    public async ValueTask InitializeAsync() => server = await FakeMlflowServer.StartAsync();

    public async ValueTask DisposeAsync() => await server.DisposeAsync();

    MlflowClient Client(MlflowClientOptions? options = null) => new(server.Url, options ?? new MlflowClientOptions());

    static long Now => DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();

    [Fact]
    public async Task The_fake_server_rejects_an_over_limit_batch_with_MLflows_error_shape()
    {
        // The check the client's splitting is tested against must itself fail on a batch over the limit.
        using var http = new HttpClient();
        using var client = Client();
        var run = await client.CreateRunAsync(await client.GetOrCreateExperimentAsync("limits"));
        string metrics = string.Join(',', Enumerable.Range(0, 1001).Select(i => $$"""{"key":"m","value":{{i}},"timestamp":1,"step":{{i}}}"""));
        var body = new StringContent($$"""{"run_id":"{{run.RunId}}","metrics":[{{metrics}}]}""", Encoding.UTF8, "application/json");
        using var response = await http.PostAsync(new Uri(server.Url, "api/2.0/mlflow/runs/log-batch"), body, TestContext.Current.CancellationToken);
        Assert.Equal(400, (int)response.StatusCode);
        using var error = JsonDocument.Parse(await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken));
        Assert.Equal("INVALID_PARAMETER_VALUE", error.RootElement.GetProperty("error_code").GetString());
        Assert.Contains("at most 1000 metrics. Got 1001", error.RootElement.GetProperty("message").GetString());
        Assert.Empty(server.Runs[run.RunId].Metrics);
    }

    [Fact]
    public async Task A_batch_of_2500_metrics_150_params_and_120_tags_is_split_within_every_limit_and_arrives_whole()
    {
        using var client = Client();
        var run = await client.CreateRunAsync(await client.GetOrCreateExperimentAsync("split"), "big");
        var metrics = Enumerable.Range(0, 2500).Select(i => new MlflowMetric(i % 2 == 0 ? "train/loss" : "val_acc", 1.0 / (i + 1), Now, i)).ToList();
        var parameters = Enumerable.Range(0, 150).Select(i => KeyValuePair.Create($"p{i}", $"{i}")).ToList();
        var tags = Enumerable.Range(0, 120).Select(i => KeyValuePair.Create($"t{i}", $"v{i}")).ToList();

        int requests = await client.LogBatchAsync(run.RunId, metrics, parameters, tags, TestContext.Current.CancellationToken);

        Assert.Empty(server.Violations);
        var batches = server.Requests.Where(r => r.Path.EndsWith("runs/log-batch", StringComparison.Ordinal)).ToList();
        Assert.Equal(requests, batches.Count);
        Assert.Equal(3, requests); // 100 params + 100 tags + 800 metrics | 50 params + 20 tags + 930 metrics | 770 metrics
        var stored = server.Runs[run.RunId];
        Assert.Equal(metrics.Select(m => (m.Key, m.Value, m.Step)), stored.Metrics.Select(m => (m.Key, m.Value, m.Step)));
        Assert.Equal(150, stored.Params.Count);
        Assert.Equal(120 + 1, stored.Tags.Count); // + mlflow.runName
    }

    [Fact]
    public async Task Experiments_are_created_once_runs_end_with_status_and_end_time_and_NaN_travels()
    {
        using var client = Client();
        string first = await client.GetOrCreateExperimentAsync("mnist", TestContext.Current.CancellationToken);
        string again = await client.GetOrCreateExperimentAsync("mnist", TestContext.Current.CancellationToken);
        Assert.Equal(first, again);
        Assert.Equal("mnist", server.ExperimentName(first));
        var start = DateTimeOffset.FromUnixTimeMilliseconds(1_700_000_000_000);
        var run = await client.CreateRunAsync(first, "cnn", start, [KeyValuePair.Create("mlflow.user", "me")], TestContext.Current.CancellationToken);
        await client.LogBatchAsync(run.RunId, [new MlflowMetric("loss", double.NaN, Now, 0), new MlflowMetric("loss", double.PositiveInfinity, Now, 1)], cancellationToken: TestContext.Current.CancellationToken);
        var end = DateTimeOffset.FromUnixTimeMilliseconds(1_700_000_100_000);
        await client.UpdateRunAsync(run.RunId, "FAILED", end, TestContext.Current.CancellationToken);

        Assert.Empty(server.Violations);
        var stored = server.Runs[run.RunId];
        Assert.Equal(("cnn", 1_700_000_000_000L, "FAILED", (long?)1_700_000_100_000), (stored.Name, stored.StartTime, stored.Status, stored.EndTime));
        Assert.Equal("me", stored.Tags["mlflow.user"]);
        Assert.True(double.IsNaN(stored.Metrics[0].Value));
        Assert.True(double.IsPositiveInfinity(stored.Metrics[1].Value));
        Assert.Equal($"mlflow-artifacts:/{first}/{run.RunId}/artifacts", run.ArtifactUri);
    }

    [Fact]
    public async Task Transient_server_errors_are_retried_and_client_errors_are_not()
    {
        using var client = Client(new MlflowClientOptions { RetryDelay = TimeSpan.Zero, MaxRetries = 2 });
        var run = await client.CreateRunAsync(await client.GetOrCreateExperimentAsync("retries"));
        server.FailNext["runs/update"] = (503, "TEMPORARILY_UNAVAILABLE", "try later");
        server.FailTimes["runs/update"] = 2;
        await client.UpdateRunAsync(run.RunId, "FINISHED");
        Assert.Equal("FINISHED", server.Runs[run.RunId].Status);
        Assert.Equal([503, 503, 200], server.Requests.Where(r => r.Path.EndsWith("/runs/update", StringComparison.Ordinal)).Select(r => r.Status));

        server.FailNext["runs/log-batch"] = (404, "RESOURCE_DOES_NOT_EXIST", "no such run");
        await Assert.ThrowsAsync<MlflowException>(() => client.LogBatchAsync(run.RunId, parameters: [KeyValuePair.Create("lr", "0.1")]));
        Assert.Single(server.Requests, r => r.Path.EndsWith("/runs/log-batch", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_server_error_becomes_an_exception_naming_the_endpoint_code_and_message()
    {
        using var client = Client(new MlflowClientOptions { RetryDelay = TimeSpan.Zero });
        var run = await client.CreateRunAsync(await client.GetOrCreateExperimentAsync("errors"));
        server.FailNext["runs/update"] = (500, "INTERNAL_ERROR", "database is locked");
        server.FailTimes["runs/update"] = 4; // the first try and all 3 retries
        var error = await Assert.ThrowsAsync<MlflowException>(() => client.UpdateRunAsync(run.RunId, "FINISHED"));
        Assert.Equal("MLflow runs/update failed with HTTP 500: INTERNAL_ERROR: database is locked", error.Message);
        Assert.Equal(("runs/update", "INTERNAL_ERROR", (int?)500), (error.Endpoint, error.ErrorCode, error.StatusCode));

        await client.LogBatchAsync(run.RunId, parameters: [KeyValuePair.Create("lr", "0.1")]);
        var changed = await Assert.ThrowsAsync<MlflowException>(() => client.LogBatchAsync(run.RunId, parameters: [KeyValuePair.Create("lr", "0.2")]));
        Assert.StartsWith("MLflow runs/log-batch failed with HTTP 400: INVALID_PARAMETER_VALUE: Changing param values is not allowed", changed.Message);

        var missing = await Assert.ThrowsAsync<MlflowException>(() => client.LogBatchAsync("0123456789abcdef0123456789abcdef", [new MlflowMetric("x", 1, Now, 0)]));
        Assert.Equal("RESOURCE_DOES_NOT_EXIST", missing.ErrorCode);
        Assert.Contains("runs/log-batch", missing.Message);
    }

    [Fact]
    public async Task An_unreachable_server_is_an_MlflowException_saying_so()
    {
        using var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        int port = ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop(); // nothing listens there now
        using var client = new MlflowClient(new Uri($"http://127.0.0.1:{port}"), new MlflowClientOptions());
        var error = await Assert.ThrowsAsync<MlflowException>(() => client.GetOrCreateExperimentAsync("x"));
        Assert.Contains("experiments/get-by-name: cannot reach the tracking server", error.Message);
    }

    [Fact]
    public async Task A_missing_experiment_is_null_not_an_error()
    {
        using var client = Client();
        Assert.Null(await client.GetExperimentIdByNameAsync("no-such-experiment", TestContext.Current.CancellationToken));
    }

    [Fact]
    public async Task Tokens_are_sent_as_bearer_and_user_and_password_as_basic()
    {
        using (var client = Client(new MlflowClientOptions { Token = "secret-token", Username = "ignored" }))
            await client.GetExperimentIdByNameAsync("a", TestContext.Current.CancellationToken);
        using (var client = Client(new MlflowClientOptions { Username = "ann", Password = "pw" }))
            await client.GetExperimentIdByNameAsync("b", TestContext.Current.CancellationToken);
        var seen = server.Requests.Select(r => r.Authorization).ToList();
        Assert.Equal("Bearer secret-token", seen[0]);
        Assert.Equal(new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes("ann:pw"))).ToString(), seen[1]);
    }

    [Fact]
    public async Task Artifacts_go_through_the_mlflow_artifacts_proxy_below_the_runs_artifact_root()
    {
        using var client = Client();
        var run = await client.CreateRunAsync(await client.GetOrCreateExperimentAsync("artifacts"));
        byte[] card = Encoding.UTF8.GetBytes("---\nlibrary_name: tessera\n---\n# model\n");
        await client.UploadArtifactAsync(run, "model/README.md", card, TestContext.Current.CancellationToken);
        Assert.Equal(card, server.Artifacts[$"{run.ExperimentId}/{run.RunId}/artifacts/model/README.md"]);
        Assert.Contains(server.Requests, r => r.Method == "PUT" && r.Path == $"/api/2.0/mlflow-artifacts/artifacts/{run.ExperimentId}/{run.RunId}/artifacts/model/README.md");

        var s3 = run with { ArtifactUri = "s3://bucket/1/run/artifacts" };
        var error = await Assert.ThrowsAsync<MlflowException>(() => client.UploadArtifactAsync(s3, "a.txt", [1]));
        Assert.Contains("--serve-artifacts", error.Message);
        await Assert.ThrowsAsync<ArgumentException>(() => client.UploadArtifactAsync(run, "../escape", [1]));
    }

    [Fact]
    public void Splitting_keeps_each_limit_and_the_order()
    {
        var metrics = Enumerable.Range(0, 2500).Select(i => new MlflowMetric("m", i, 0, i)).ToList();
        var batches = MlflowBatch.Split(metrics, [], []).ToList();
        Assert.Equal([1000, 1000, 500], batches.Select(b => b.Metrics.Count));
        Assert.Equal(Enumerable.Range(0, 2500).Select(i => (long)i), batches.SelectMany(b => b.Metrics).Select(m => m.Step));
        var mixed = MlflowBatch.Split(metrics, Enumerable.Range(0, 150).Select(i => KeyValuePair.Create($"{i}", "")).ToList(), Enumerable.Range(0, 120).Select(i => KeyValuePair.Create($"{i}", "")).ToList()).ToList();
        Assert.All(mixed, b => Assert.True(b.Metrics.Count <= 1000 && b.Params.Count <= 100 && b.Tags.Count <= 100 && b.Metrics.Count + b.Params.Count + b.Tags.Count <= 1000));
        Assert.Equal((2500, 150, 120), (mixed.Sum(b => b.Metrics.Count), mixed.Sum(b => b.Params.Count), mixed.Sum(b => b.Tags.Count)));
        Assert.Single(MlflowBatch.Split([], [], []));
    }
}
