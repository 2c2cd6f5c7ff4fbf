using Tessera.Tracking.Mlflow;
using Tessera.Tracking.Runs;
using Tessera.Training.Loggers;

namespace Tessera.Cli;

/// <summary>
/// Sends a tracked command's run to an MLflow tracking server as well as to the runs store: when
/// <c>--tracking-uri</c> (or TESSERA_TRACKING_URI) is an http(s) URI, or MLFLOW_TRACKING_URI is one. The run is
/// created on the server when the command starts (RUNNING, with its params and tags); the metrics its trainers log
/// are sent while it runs (<see cref="Live"/>, fed by <see cref="CliLiveMetrics"/>: log-batch requests from a
/// background task, at least every <see cref="CliLiveMetrics.FlushInterval"/> while metrics arrive), so MLflow's UI
/// follows the curves; the run is completed when the command ends (metrics not sent yet, tags, model card and config as
/// artifacts, status and end time). The local store still records the run:
/// it holds what MLflow has no place for (environment, dataset and weight hashes, the argument list that
/// <c>tessera runs reproduce</c> re-runs), and a run is not lost when the server is down. Like the rest of tracking,
/// a failing server is one warning line, never a failed command.
/// </summary>
sealed class CliMlflow
{
    readonly MlflowRunPublisher publisher;
    readonly MlflowRunInfo remote;
    readonly TextWriter err;
    Exception? liveFailure;

    CliMlflow(MlflowRunPublisher publisher, MlflowRunInfo remote, TextWriter err)
    {
        this.publisher = publisher;
        this.remote = remote;
        this.err = err;
        Live = new MlflowLogger(publisher.Client, remote)
        {
            SendInBackground = true,
            FlushInterval = CliLiveMetrics.FlushInterval,
            SendError = e => Interlocked.CompareExchange(ref liveFailure, e, null),
        };
    }

    /// <summary>Sends metrics to the MLflow run while the command runs, without holding up training; a failed send is reported once at <see cref="Finish"/>.</summary>
    internal MlflowLogger Live { get; }

    /// <summary>
    /// Splits the tracking URI option into the runs store to open (null: TESSERA_TRACKING_URI or the default) and the
    /// MLflow server to send to (null: none).
    /// </summary>
    internal static (string? Store, string? Server) SplitTrackingUri(string? option)
    {
        string? server = null;
        if (MlflowClient.IsServerUri(option)) (server, option) = (option, null);
        if (option is null && Environment.GetEnvironmentVariable(RunStore.UriVariable) is { } fromEnvironment && MlflowClient.IsServerUri(fromEnvironment))
            (server, option) = (server ?? fromEnvironment, RunStore.DefaultRelativePath);
        if (server is null && Environment.GetEnvironmentVariable(MlflowClient.UriVariable) is { } mlflow && MlflowClient.IsServerUri(mlflow)) server = mlflow;
        return (option, server);
    }

    /// <summary>Creates the run on <paramref name="server"/>; null (after one warning line) when the server cannot take it.</summary>
    internal static CliMlflow? Start(string server, RunStore store, string runId, TextWriter err)
    {
        MlflowClient? client = null;
        try
        {
            client = new MlflowClient(new Uri(server));
            var publisher = new MlflowRunPublisher(client);
            var remote = publisher.StartAsync(store, runId).GetAwaiter().GetResult();
            return new CliMlflow(publisher, remote, err);
        }
        catch (Exception e) when (e is MlflowException or UriFormatException or ArgumentException)
        {
            client?.Dispose();
            err.WriteLine($"warning: run {runId} is not sent to MLflow at {server}: {e.Message}");
            return null;
        }
    }

    /// <summary>Sends the rest of the run (call after the store has ended it) and closes the connection.</summary>
    internal void Finish(RunStore store, string runId)
    {
        try
        {
            Live.Dispose(); // sends what is buffered and waits for the background sends
            if (liveFailure is { } failure)
                err.WriteLine($"warning: metrics of MLflow run {remote.RunId} did not all arrive while it ran (sent now): {failure.Message}");
            publisher.FinishAsync(store, runId, remote, m => Live.WasSent(m.Key, m.Step)).GetAwaiter().GetResult();
            err.WriteLine($"MLflow run: {publisher.Client.TrackingUri.GetLeftPart(UriPartial.Path).TrimEnd('/')}/#/experiments/{remote.ExperimentId}/runs/{remote.RunId}");
        }
        catch (Exception e) when (e is MlflowException or IOException or TrackingException)
        {
            err.WriteLine($"warning: MLflow run {remote.RunId} at {publisher.Client.TrackingUri} may be incomplete: {e.Message}");
        }
        finally
        {
            publisher.Client.Dispose();
        }
    }
}
