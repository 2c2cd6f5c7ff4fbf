using System.Net;

namespace Tessera.Hub;

/// <summary>A hub request or a cache lookup failed; subclasses say why, and the message names the repository, revision and file.</summary>
public class HubException : TesseraException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="message">What went wrong and what to do about it.</param>
    /// <param name="repoId">The repository concerned.</param>
    /// <param name="revision">The revision asked for, if any.</param>
    /// <param name="filename">The file asked for, if any.</param>
    /// <param name="statusCode">The HTTP status the hub answered with, if any.</param>
    /// <param name="inner">The underlying error.</param>
    public HubException(string message, string? repoId = null, string? revision = null, string? filename = null,
        HttpStatusCode? statusCode = null, Exception? inner = null)
        : base(message, inner)
    {
        RepoId = repoId;
        Revision = revision;
        Filename = filename;
        StatusCode = statusCode;
    }

    /// <summary>The repository concerned.</summary>
    public string? RepoId { get; }

    /// <summary>The revision asked for.</summary>
    public string? Revision { get; }

    /// <summary>The file asked for.</summary>
    public string? Filename { get; }

    /// <summary>The HTTP status the hub answered with; null for errors without a response.</summary>
    public HttpStatusCode? StatusCode { get; }

    internal static string Describe(string repoId, string? revision, string? filename) =>
        filename is null ? $"'{repoId}' at revision '{revision}'" : $"'{filename}' in '{repoId}' at revision '{revision}'";
}
