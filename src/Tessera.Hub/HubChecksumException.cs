using System.Net;

namespace Tessera.Hub;

/// <summary>The downloaded bytes do not match the sha256 the hub announced in the ETag; the partial file was deleted.</summary>
public class HubChecksumException : HubException
{
    /// <summary>Creates the exception; see <see cref="HubException"/> for the parameters.</summary>
    public HubChecksumException(string message, string? repoId = null, string? revision = null, string? filename = null,
        HttpStatusCode? statusCode = null, Exception? inner = null)
        : base(message, repoId, revision, filename, statusCode, inner) { }
}
