using System.Net;

namespace Tessera.Hub;

/// <summary>The repository exists but has no such branch, tag or commit (HTTP 404 with X-Error-Code RevisionNotFound).</summary>
public class RevisionNotFoundException : HubException
{
    /// <summary>Creates the exception; see <see cref="HubException"/> for the parameters.</summary>
    public RevisionNotFoundException(string message, string? repoId = null, string? revision = null, string? filename = null,
        HttpStatusCode? statusCode = null, Exception? inner = null)
        : base(message, repoId, revision, filename, statusCode, inner) { }
}
