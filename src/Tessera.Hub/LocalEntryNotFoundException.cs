using System.Net;

namespace Tessera.Hub;

/// <summary>Offline (HF_HUB_OFFLINE, or the hub could not be reached) and the file or snapshot is not in the cache.</summary>
public class LocalEntryNotFoundException : HubException
{
    /// <summary>Creates the exception; see <see cref="HubException"/> for the parameters.</summary>
    public LocalEntryNotFoundException(string message, string? repoId = null, string? revision = null, string? filename = null,
        HttpStatusCode? statusCode = null, Exception? inner = null)
        : base(message, repoId, revision, filename, statusCode, inner) { }
}
