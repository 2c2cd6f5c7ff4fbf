using System.Globalization;
using Tessera.Tests.Mlflow;
using Tessera.Training;
using Tessera.Training.Loggers;

namespace Tessera.Tests.Training;

public sealed class MlflowLoggerTests : IAsyncLifetime
{
    readonly TempDirectory temp = new("tessera-mlflow-logger-");
    FakeMlflowServer server = null!;

    public async ValueTask InitializeAsync() => server = await FakeMlflowServer.StartAsync();

    public async ValueTask DisposeAsync()
    {
        await server.DisposeAsync();
        temp.Dispose();
    }

    [Fact]
    public void A_trainer_run_logs_the_same_points_as_the_csv_logger_in_batches_and_ends_finished()
    {
        string csvPath = temp.File("metrics.csv");
        using var module = new TinyClassifier(5);
        var mlflow = MlflowLogger.Start(server.Url.ToString(), "tiny", "tiny-run");
        using (var csv = new CsvLogger(csvPath))
        using (mlflow)
            new Trainer(new TrainerOptions { MaxEpochs = 2, LogEveryNSteps = 1, Loggers = [csv, mlflow] })
                .Fit(module, new ListLoader(64, 16, false), new ListLoader(32, 16, false));

        Assert.Empty(server.Violations);
        var run = server.Runs[mlflow.Run.RunId];
        Assert.Equal(("tiny", "tiny-run", "FINISHED"), (server.ExperimentName(run.ExperimentId), run.Name, run.Status));
        Assert.NotNull(run.EndTime);
        var hparams = System.Text.Json.JsonSerializer.Deserialize<Dictionary<string, string?>>(File.ReadAllText(temp.File("hparams.json")))!;
        Assert.Equal(hparams.ToDictionary(h => h.Key, h => h.Value ?? ""), run.Params);

        // Every value of the CSV (one row per logging call, a column per metric) arrived with its step.
        var lines = File.ReadAllLines(csvPath);
        var header = lines[0].Split(',');
        var expected = new List<(string, long, double)>();
        foreach (var line in lines.Skip(1))
        {
            var cells = line.Split(',');
            for (int c = 1; c < cells.Length; c++)
                if (cells[c].Length > 0) expected.Add((header[c], long.Parse(cells[0], CultureInfo.InvariantCulture), double.Parse(cells[c], CultureInfo.InvariantCulture)));
        }
        var got = run.Metrics.Select(m => (m.Key, m.Step, m.Value)).ToList();
        Assert.Equal(expected.Count, got.Count);
        foreach (var (key, step, value) in expected)
            Assert.Contains(got, g => g.Key == key && g.Step == step && Math.Abs(g.Value - value) <= 1e-6 * Math.Max(1, Math.Abs(value)));
    }

    [Fact]
    public async Task Points_are_sent_once_a_batch_is_full_and_the_rest_on_flush()
    {
        using var client = new Tracking.Mlflow.MlflowClient(server.Url, new Tracking.Mlflow.MlflowClientOptions());
        string experiment = await client.GetOrCreateExperimentAsync("batches", TestContext.Current.CancellationToken);
        var remote = await client.CreateRunAsync(experiment, cancellationToken: TestContext.Current.CancellationToken);
        using var logger = new MlflowLogger(client, remote) { BatchSize = 10, FlushInterval = TimeSpan.FromHours(1) };
        logger.LogHyperparameters(new Dictionary<string, object?> { ["lr"] = 0.1, ["layers"] = 2, ["name"] = null });
        Assert.Equal(new Dictionary<string, string> { ["lr"] = "0.1", ["layers"] = "2", ["name"] = "" }, server.Runs[remote.RunId].Params);
        for (int step = 0; step < 25; step++) logger.LogMetrics(new Dictionary<string, double> { ["loss"] = step }, step);
        Assert.Equal(20, server.Runs[remote.RunId].Metrics.Count); // two full batches sent, five points waiting
        logger.Flush();
        Assert.Equal(Enumerable.Range(0, 25).Select(i => (double)i), server.Runs[remote.RunId].Metrics.Select(m => m.Value));
        Assert.Equal(1 + 3, server.Requests.Count(r => r.Path.EndsWith("runs/log-batch", StringComparison.Ordinal)));
        Assert.Equal("RUNNING", server.Runs[remote.RunId].Status); // a run it did not start is the caller's to end
    }
    [Fact]
    public async Task In_the_background_points_go_in_batches_of_at_most_1000_and_a_failed_send_is_reported_not_thrown()
    {
        using var client = new Tracking.Mlflow.MlflowClient(server.Url, new Tracking.Mlflow.MlflowClientOptions());
        string experiment = await client.GetOrCreateExperimentAsync("background", TestContext.Current.CancellationToken);
        var remote = await client.CreateRunAsync(experiment, cancellationToken: TestContext.Current.CancellationToken);
        var errors = new System.Collections.Concurrent.ConcurrentQueue<Exception>();
        using var logger = new MlflowLogger(client, remote) { SendInBackground = true, BatchSize = 5000, FlushInterval = TimeSpan.FromHours(1), SendError = errors.Enqueue };

        // One flush of 2500 points (two metrics a step): log-batch's limit splits it into three requests.
        for (int step = 0; step < 1250; step++) logger.LogMetrics(new Dictionary<string, double> { ["loss"] = step, ["acc"] = step / 1250.0 }, step);
        logger.Flush();
        logger.WaitForSends();
        Assert.Empty(server.Violations);
        Assert.Equal(2500, server.Runs[remote.RunId].Metrics.Count);
        Assert.Equal(3, server.Requests.Count(r => r.Path.EndsWith("runs/log-batch", StringComparison.Ordinal)));
        Assert.True(logger.WasSent("loss", 1249) && logger.WasSent("acc", 0));

        // The server refuses the next batch: the logger's caller sees no exception, the error goes to SendError, the points are not marked sent.
        server.FailNext["runs/log-batch"] = (400, "INVALID_PARAMETER_VALUE", "refused for the test");
        logger.LogMetrics(new Dictionary<string, double> { ["loss"] = -1 }, 5000);
        logger.Flush();
        logger.WaitForSends();
        Assert.Contains("refused for the test", Assert.Single(errors).Message);
        Assert.False(logger.WasSent("loss", 5000));
        Assert.Equal(2500, server.Runs[remote.RunId].Metrics.Count);

        // Later batches still go.
        logger.LogMetrics(new Dictionary<string, double> { ["loss"] = 7 }, 5001);
        logger.Dispose();
        Assert.True(logger.WasSent("loss", 5001));
        Assert.Equal(2501, server.Runs[remote.RunId].Metrics.Count);
    }
}
