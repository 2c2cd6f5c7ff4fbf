using Tessera.Tests.Mlflow;
using Tessera.Tracking.Mlflow;
using Tessera.Tracking.Runs;

namespace Tessera.Tracking.Tests.Mlflow;

public sealed class MlflowRunPublisherTests : IAsyncLifetime
{
    readonly TempDirectory temp = new("tessera-mlflow-publish-");
    FakeMlflowServer server = null!;

    public async ValueTask InitializeAsync() => server = await FakeMlflowServer.StartAsync();

    public async ValueTask DisposeAsync()
    {
        await server.DisposeAsync();
        temp.Dispose();
    }

    [Fact]
    public async Task A_recorded_run_arrives_with_params_every_metric_point_tags_card_and_status()
    {
        string model = temp.File("out/model");
        Directory.CreateDirectory(model);
        File.WriteAllText(Path.Combine(model, "README.md"), "# card\n");
        File.WriteAllBytes(Path.Combine(model, "model.safetensors"), new byte[16]);
        using var store = RunStore.Open(temp.File("runs.db"));
        string id;
        using (var run = store.StartRun(new RunStartOptions { Experiment = "finetune", Name = "lora", CommandLine = "tessera finetune x", Arguments = ["finetune", "x"] }))
        {
            id = run.Id;
            run.LogParams(Enumerable.Range(0, 130).ToDictionary(i => $"p{i}", i => $"{i}"));
            for (int step = 0; step < 1200; step++) run.LogMetrics(new Dictionary<string, double> { ["train/loss"] = 1.0 / (step + 1), ["lr"] = 1e-3 }, step);
            run.LogArtifact(model, ArtifactKind.ModelFolder);
            run.LogArtifact(Path.Combine(model, "model.safetensors"), ArtifactKind.Weights);
            run.End(RunStatus.Killed);
        }

        using var client = new MlflowClient(server.Url, new MlflowClientOptions());
        var remote = await new MlflowRunPublisher(client).PublishAsync(store, id, TestContext.Current.CancellationToken);

        Assert.Empty(server.Violations);
        var got = server.Runs[remote.RunId];
        var local = store.GetRun(id);
        Assert.Equal("finetune", server.ExperimentName(got.ExperimentId));
        Assert.Equal(("lora", "KILLED", local.StartTime.ToUnixTimeMilliseconds(), local.EndTime!.Value.ToUnixTimeMilliseconds()), (got.Name, got.Status, got.StartTime, got.EndTime!.Value));
        Assert.Equal(store.GetParams(id), got.Params);
        Assert.Equal(2400, got.Metrics.Count);
        Assert.Equal(store.GetMetricHistory(id).Select(p => (p.Key, p.Value, p.Timestamp.ToUnixTimeMilliseconds(), p.Step)), got.Metrics.Select(m => (m.Key, m.Value, m.Timestamp, m.Step)));
        Assert.Equal(id, got.Tags["tessera.run_id"]);
        Assert.Equal("tessera finetune x", got.Tags["tessera.command_line"]);
        Assert.Equal("LOCAL", got.Tags["mlflow.source.type"]);
        Assert.Equal(store.GetArtifacts(id).Single(a => a.Kind == ArtifactKind.Weights).Sha256, got.Tags["tessera.sha256.model.safetensors"]);
        Assert.Equal("# card\n"u8.ToArray(), server.Artifacts[$"{got.ExperimentId}/{got.Id}/artifacts/model/README.md"]);
        Assert.DoesNotContain(server.Artifacts.Keys, k => k.EndsWith(".safetensors", StringComparison.Ordinal));
        Assert.All(server.Requests.Where(r => r.Path.EndsWith("log-batch", StringComparison.Ordinal)), r => Assert.Equal(200, r.Status));
    }
}
