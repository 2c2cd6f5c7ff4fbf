using System.Diagnostics;
using System.Globalization;
using Tessera.Tracking.Mlflow;

namespace Tessera.Training.Loggers;

/// <summary>
/// Logs a training run to an MLflow tracking server over its REST API: hyperparameters as params, metrics buffered
/// and sent in runs/log-batch requests (when <see cref="BatchSize"/> points are waiting, when
/// <see cref="FlushInterval"/> has passed since the last send, on <see cref="Flush"/> and at the end).
/// <c>Loggers = [MlflowLogger.Start("http://127.0.0.1:5000", "mnist")]</c>; disposing it ends the run as FINISHED.
/// With <see cref="SendInBackground"/> the sends run on a background task, one at a time and in order, so a slow or
/// failing server never holds up a training step.
/// </summary>
public sealed class MlflowLogger : IMetricsLogger
{
    readonly MlflowClient client;
    readonly bool ownsRun;
    readonly List<MlflowMetric> pending = [];
    readonly Stopwatch sinceSend = Stopwatch.StartNew();
    readonly Lock gate = new();
    readonly HashSet<(string Key, long Step)> sent = [];
    Task sending = Task.CompletedTask;
    bool ended;

    /// <summary>Logs into the existing MLflow run <paramref name="run"/> through <paramref name="client"/>; the caller ends the run and disposes the client.</summary>
    public MlflowLogger(MlflowClient client, MlflowRunInfo run)
    {
        this.client = client;
        Run = run;
    }

    MlflowLogger(MlflowClient client, MlflowRunInfo run, bool ownsRun) : this(client, run) => this.ownsRun = ownsRun;

    /// <summary>
    /// Starts a run named <paramref name="runName"/> in experiment <paramref name="experiment"/> (created when missing)
    /// on the server <paramref name="trackingUri"/> (null: MLFLOW_TRACKING_URI). Credentials come from
    /// <paramref name="options"/> or MLflow's variables. Disposing the logger ends the run as FINISHED.
    /// </summary>
    /// <exception cref="MlflowException">The server refused or could not be reached.</exception>
    /// <exception cref="ArgumentException">No server URI is given or set, or it is not http(s).</exception>
    public static MlflowLogger Start(string? trackingUri = null, string experiment = "Default", string? runName = null, MlflowClientOptions? options = null)
    {
        trackingUri ??= Environment.GetEnvironmentVariable(MlflowClient.UriVariable);
        if (string.IsNullOrEmpty(trackingUri)) throw new ArgumentException($"no MLflow tracking server given, and {MlflowClient.UriVariable} is not set", nameof(trackingUri));
        var client = new MlflowClient(new Uri(trackingUri), options);
        try
        {
            string experimentId = client.GetOrCreateExperimentAsync(experiment).GetAwaiter().GetResult();
            var tags = new Dictionary<string, string> { ["mlflow.user"] = Environment.UserName, ["mlflow.source.type"] = "LOCAL", ["mlflow.source.name"] = "tessera" };
            var run = client.CreateRunAsync(experimentId, runName, tags: tags).GetAwaiter().GetResult();
            return new MlflowLogger(client, run, ownsRun: true);
        }
        catch
        {
            client.Dispose();
            throw;
        }
    }

    /// <summary>The MLflow run being logged to.</summary>
    public MlflowRunInfo Run { get; }

    /// <summary>Points waiting before a send [default: 1000, one full log-batch request].</summary>
    public int BatchSize { get; init; } = 1000;

    /// <summary>Longest time points wait before they are sent, so the MLflow UI follows a run [default: 5 s].</summary>
    public TimeSpan FlushInterval { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// Sends metrics on a background task: <see cref="LogMetrics"/> and <see cref="Flush"/> only hand batches over,
    /// <see cref="WaitForSends"/>, <see cref="End"/> and <see cref="Dispose"/> wait for them, and a failed send goes to
    /// <see cref="SendError"/> (its points are not retried) instead of being thrown [default: false].
    /// </summary>
    public bool SendInBackground { get; init; }

    /// <summary>Told about each failed background send (see <see cref="SendInBackground"/>); null ignores failures.</summary>
    public Action<Exception>? SendError { get; init; }

    /// <summary>Whether the point of metric <paramref name="key"/> (its MLflow name) at <paramref name="step"/> has reached the server.</summary>
    public bool WasSent(string key, long step)
    {
        lock (gate) return sent.Contains((key, step));
    }

    /// <inheritdoc />
    public void LogHyperparameters(IReadOnlyDictionary<string, object?> hyperparameters)
    {
        var parameters = hyperparameters.Select(h => KeyValuePair.Create(MlflowClient.SafeName(h.Key), Convert.ToString(h.Value, CultureInfo.InvariantCulture) ?? "")).ToList();
        client.LogBatchAsync(Run.RunId, parameters: parameters).GetAwaiter().GetResult();
    }

    /// <inheritdoc />
    public void LogMetrics(IReadOnlyDictionary<string, double> metrics, long step)
    {
        long now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        bool send;
        lock (gate)
        {
            foreach (var (key, value) in metrics) pending.Add(new MlflowMetric(MlflowClient.SafeName(key), value, now, step));
            send = pending.Count >= BatchSize || sinceSend.Elapsed >= FlushInterval;
        }
        if (send) Flush();
    }

    /// <summary>Sends the buffered points (with <see cref="SendInBackground"/>: hands them to the background task and returns).</summary>
    /// <exception cref="MlflowException">The server refused or could not be reached (not with <see cref="SendInBackground"/>).</exception>
    public void Flush()
    {
        MlflowMetric[] batch;
        lock (gate)
        {
            batch = [.. pending];
            pending.Clear();
            sinceSend.Restart();
            if (batch.Length == 0) return;
            if (SendInBackground)
            {
                sending = sending.ContinueWith(_ => SendLogged(batch), CancellationToken.None, TaskContinuationOptions.None, TaskScheduler.Default);
                return;
            }
        }
        Send(batch);
    }

    /// <summary>Waits until every batch handed to the background task has been sent or has failed.</summary>
    public void WaitForSends()
    {
        Task last;
        lock (gate) last = sending;
        last.GetAwaiter().GetResult();
    }

    void Send(MlflowMetric[] batch)
    {
        client.LogBatchAsync(Run.RunId, batch).GetAwaiter().GetResult();
        lock (gate)
            foreach (var m in batch) sent.Add((m.Key, m.Step));
    }

    void SendLogged(MlflowMetric[] batch)
    {
        // Whatever goes wrong on the background task is reported, never thrown into the training that logged the points.
        try { Send(batch); }
        catch (Exception e)
        {
            SendError?.Invoke(e);
        }
    }

    /// <summary>
    /// MLflow keeps every point it was sent (its API deletes none), so the steps after <paramref name="step"/> that a
    /// resumed run logs again appear twice in the MLflow run; points not yet sent are dropped.
    /// </summary>
    public void OnResume(long step)
    {
        lock (gate) pending.RemoveAll(p => p.Step > step);
    }

    /// <summary>Sends what is buffered and ends the run with <paramref name="status"/> (FINISHED, FAILED or KILLED).</summary>
    /// <exception cref="MlflowException">The server refused or could not be reached.</exception>
    public void End(string status = "FINISHED")
    {
        Flush();
        WaitForSends();
        client.UpdateRunAsync(Run.RunId, status).GetAwaiter().GetResult();
        ended = true;
    }

    /// <summary>Sends what is buffered; a run this logger started is ended as FINISHED (unless <see cref="End"/> ended it).</summary>
    public void Dispose()
    {
        try
        {
            if (ownsRun && !ended) End();
            else
            {
                Flush();
                WaitForSends();
            }
        }
        finally
        {
            if (ownsRun) client.Dispose();
        }
    }
}
