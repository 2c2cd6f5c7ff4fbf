using Tessera.Tracking.Runs;

namespace Tessera.Tracking.Mlflow;

/// <summary>
/// Sends a run of the runs store to an MLflow tracking server: the experiment (created by name when missing), the run
/// with its name, start time and tags (mlflow.user, mlflow.source.*, git commit, Tessera's run id and command line,
/// dataset fingerprints, weight hashes), its params, every metric point, the small files of the model folders it
/// wrote (model card, config) as artifacts, and its final status and end time.
/// <see cref="StartAsync"/> at the start of a run shows it as RUNNING; <see cref="FinishAsync(RunStore, string, MlflowRunInfo, CancellationToken)"/> sends the rest.
/// </summary>
public sealed class MlflowRunPublisher(MlflowClient client)
{
    /// <summary>The client the publisher sends through.</summary>
    public MlflowClient Client { get; } = client;

    /// <summary>Creates the MLflow run for store run <paramref name="runId"/> with its tags and params; returns the server's run.</summary>
    /// <exception cref="MlflowException">The server refused a request or could not be reached.</exception>
    /// <exception cref="TrackingException">The store has no such run.</exception>
    public async Task<MlflowRunInfo> StartAsync(RunStore store, string runId, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(store);
        var run = store.GetRun(runId);
        string experiment = store.ListExperiments().FirstOrDefault(e => e.Id == run.ExperimentId)?.Name ?? "Default";
        string experimentId = await Client.GetOrCreateExperimentAsync(experiment, cancellationToken).ConfigureAwait(false);
        var tags = MlflowNames.Tags(store, run);
        // runs/create takes the first tags; the rest (a run may have more than a request holds) go through log-batch.
        var remote = await Client.CreateRunAsync(experimentId, run.Name, run.StartTime, tags.Take(MlflowBatch.MaxTags), cancellationToken).ConfigureAwait(false);
        await Client.LogBatchAsync(remote.RunId, parameters: MlflowNames.Params(store, run.Id), tags: tags.Skip(MlflowBatch.MaxTags).ToList(), cancellationToken: cancellationToken).ConfigureAwait(false);
        return remote;
    }

    /// <summary>
    /// Sends what store run <paramref name="runId"/> recorded since <see cref="StartAsync"/>: params and tags (again:
    /// MLflow takes an unchanged param or tag as a no-op), every metric point, the small artifact files, and then its
    /// status and end time (a run still running stays RUNNING).
    /// </summary>
    /// <exception cref="MlflowException">The server refused a request or could not be reached.</exception>
    public Task FinishAsync(RunStore store, string runId, MlflowRunInfo remote, CancellationToken cancellationToken = default) =>
        FinishAsync(store, runId, remote, static _ => false, cancellationToken);

    /// <summary>
    /// Like <see cref="FinishAsync(RunStore, string, MlflowRunInfo, CancellationToken)"/>, leaving out the metric points
    /// for which <paramref name="alreadySent"/> is true (sent while the run was going, e.g. by a live logger).
    /// </summary>
    /// <exception cref="MlflowException">The server refused a request or could not be reached.</exception>
    public async Task FinishAsync(RunStore store, string runId, MlflowRunInfo remote, Func<MlflowMetric, bool> alreadySent, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(remote);
        ArgumentNullException.ThrowIfNull(alreadySent);
        var run = store.GetRun(runId);
        var metrics = MlflowNames.Metrics(store, run.Id).Where(m => !alreadySent(m)).ToList();
        await Client.LogBatchAsync(remote.RunId, metrics, MlflowNames.Params(store, run.Id), MlflowNames.Tags(store, run), cancellationToken).ConfigureAwait(false);
        foreach (var (artifactPath, file) in MlflowNames.SmallArtifactFiles(store, run.Id))
            await Client.UploadArtifactAsync(remote, artifactPath, await File.ReadAllBytesAsync(file, cancellationToken).ConfigureAwait(false), cancellationToken).ConfigureAwait(false);
        if (run.Status != RunStatus.Running)
            await Client.UpdateRunAsync(remote.RunId, MlflowNames.Status(run.Status), run.EndTime, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Sends a whole recorded run at once (<see cref="StartAsync"/> then <see cref="FinishAsync(RunStore, string, MlflowRunInfo, CancellationToken)"/>).</summary>
    /// <exception cref="MlflowException">The server refused a request or could not be reached.</exception>
    public async Task<MlflowRunInfo> PublishAsync(RunStore store, string runId, CancellationToken cancellationToken = default)
    {
        var remote = await StartAsync(store, runId, cancellationToken).ConfigureAwait(false);
        await FinishAsync(store, runId, remote, cancellationToken).ConfigureAwait(false);
        return remote;
    }
}
