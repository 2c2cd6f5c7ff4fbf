namespace Tessera.Hub;

/// <summary>A repository downloaded (or found) in the cache at one commit: what a run records to say which data it read.</summary>
/// <param name="RepoId">The repository id.</param>
/// <param name="RepoType">Model or dataset.</param>
/// <param name="Revision">The revision asked for (a branch, tag or commit).</param>
/// <param name="Commit">The 40-hex commit the revision resolved to.</param>
/// <param name="Folder">The snapshot folder <c>{cache}/{type}s--org--name/snapshots/{commit}</c>.</param>
public sealed record HubSnapshot(string RepoId, RepoType RepoType, string Revision, string Commit, string Folder)
{
    /// <summary>The <c>hf://</c> address of the repository, e.g. <c>hf://datasets/org/name</c>.</summary>
    public string Uri => $"hf://{RepoType.Plural()}/{RepoId}";
}
