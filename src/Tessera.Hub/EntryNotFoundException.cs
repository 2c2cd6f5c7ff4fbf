using System.Net;

namespace Tessera.Hub;

/// <summary>The repository exists at that revision but has no such file (HTTP 404).</summary>
public class EntryNotFoundException : HubException
{
    /// <summary>Creates the exception; see <see cref="HubException"/> for the parameters.</summary>
    public EntryNotFoundException(string message, string? repoId = null, string? revision = null, string? filename = null,
        HttpStatusCode? statusCode = null, Exception? inner = null)
        : base(message, repoId, revision, filename, statusCode, inner) { }
}
