namespace Tessera.Hub;

/// <summary>A dataset repository at one revision, as <c>GET /api/datasets/{repo}/revision/{revision}</c> returns it.</summary>
public sealed record HubDatasetInfo : HubRepoInfo;
