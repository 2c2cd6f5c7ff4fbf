namespace Tessera.Tracking.Mlflow;

/// <summary>What an MLflow server says about a run (<c>RunInfo</c>).</summary>
/// <param name="RunId">The server's run id.</param>
/// <param name="ExperimentId">The experiment it belongs to.</param>
/// <param name="RunName">Its name.</param>
/// <param name="Status">RUNNING, SCHEDULED, FINISHED, FAILED or KILLED.</param>
/// <param name="ArtifactUri">Where its artifacts go, e.g. <c>mlflow-artifacts:/1/&lt;run&gt;/artifacts</c>; null if the server sent none.</param>
public sealed record MlflowRunInfo(string RunId, string ExperimentId, string? RunName, string? Status, string? ArtifactUri);
