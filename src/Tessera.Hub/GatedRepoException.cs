using System.Net;

namespace Tessera.Hub;

/// <summary>The repository needs a token (HTTP 401) or the token has no access to it (HTTP 403), e.g. a gated model whose terms were not accepted.</summary>
public class GatedRepoException : HubException
{
    /// <summary>Creates the exception; see <see cref="HubException"/> for the parameters.</summary>
    public GatedRepoException(string message, string? repoId = null, string? revision = null, string? filename = null,
        HttpStatusCode? statusCode = null, Exception? inner = null)
        : base(message, repoId, revision, filename, statusCode, inner) { }
}
