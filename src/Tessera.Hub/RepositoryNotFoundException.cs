using System.Net;

namespace Tessera.Hub;

/// <summary>The repository does not exist, or it is private and the token (if any) cannot see it (HTTP 404, or 401 with X-Error-Code RepoNotFound).</summary>
public class RepositoryNotFoundException : HubException
{
    /// <summary>Creates the exception; see <see cref="HubException"/> for the parameters.</summary>
    public RepositoryNotFoundException(string message, string? repoId = null, string? revision = null, string? filename = null,
        HttpStatusCode? statusCode = null, Exception? inner = null)
        : base(message, repoId, revision, filename, statusCode, inner) { }
}
