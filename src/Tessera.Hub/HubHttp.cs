using System.Net;
using System.Net.Http.Headers;

namespace Tessera.Hub;

/// <summary>
/// The hub's HTTP conventions in one place: the token only for the hub's own host, redirects followed by hand,
/// a time limit per request, and error responses mapped to <see cref="HubException"/> subclasses.
/// </summary>
internal sealed class HubHttp : IDisposable
{
    const int MaxRedirects = 10;
    static readonly ProductInfoHeaderValue UserAgent = new("tessera-hub", typeof(HubHttp).Assembly.GetName().Version?.ToString(3) ?? "0");

    readonly HttpClient client;
    readonly HubOptions options;

    public HubHttp(HubOptions options)
    {
        this.options = options;
        Endpoint = new Uri(options.Endpoint.TrimEnd('/') + "/", UriKind.Absolute);
        HttpMessageHandler handler = options.HttpMessageHandler ?? new SocketsHttpHandler
        {
            AllowAutoRedirect = false,
            AutomaticDecompression = DecompressionMethods.None, // byte ranges and sizes refer to the stored bytes
            ConnectTimeout = options.RequestTimeout,
        };
        client = new HttpClient(handler, disposeHandler: options.HttpMessageHandler is null) { Timeout = Timeout.InfiniteTimeSpan };
    }

    /// <summary>The hub's base address, ending in '/'.</summary>
    public Uri Endpoint { get; }

    public Uri Url(string relative) => new(Endpoint, relative);

    /// <summary>
    /// Sends a request, following redirects until <paramref name="stopAt"/> (given each redirect and where it
    /// points) returns true or a response is not a redirect. The token goes only to the hub's own scheme, host and
    /// port. The caller disposes the response.
    /// </summary>
    public async Task<HttpResponseMessage> SendAsync(HttpMethod method, Uri uri, long? rangeFrom,
        Func<HttpResponseMessage, Uri, bool>? stopAt, CancellationToken ct)
    {
        for (int hop = 0; hop <= MaxRedirects; hop++)
        {
            using var request = new HttpRequestMessage(method, uri);
            request.Headers.UserAgent.Add(UserAgent);
            request.Headers.AcceptEncoding.Add(new StringWithQualityHeaderValue("identity"));
            if (options.Token is { } token && SameOrigin(uri, Endpoint))
                request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
            if (rangeFrom is > 0) request.Headers.Range = new RangeHeaderValue(rangeFrom, null);

            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
            timeout.CancelAfter(options.RequestTimeout);
            HttpResponseMessage response;
            try
            {
                response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, timeout.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException e) when (!ct.IsCancellationRequested)
            {
                throw new HttpRequestException($"{method} {uri} got no response within {options.RequestTimeout.TotalSeconds:0.#} s.", e);
            }

            if (IsRedirect(response.StatusCode) && response.Headers.Location is { } location)
            {
                var next = location.IsAbsoluteUri ? location : new Uri(uri, location);
                if (!(stopAt?.Invoke(response, next) ?? false))
                {
                    uri = next;
                    response.Dispose();
                    continue;
                }
            }
            return response;
        }
        throw new HubException($"More than {MaxRedirects} redirects starting from {uri}.");
    }

    public static bool IsRedirect(HttpStatusCode status) => (int)status is 301 or 302 or 303 or 307 or 308;

    public static bool SameOrigin(Uri a, Uri b) =>
        string.Equals(a.Scheme, b.Scheme, StringComparison.OrdinalIgnoreCase)
        && string.Equals(a.IdnHost, b.IdnHost, StringComparison.OrdinalIgnoreCase) && a.Port == b.Port;

    /// <summary>The exception for a failed response, chosen by status and X-Error-Code as the hub sends them.</summary>
    public async Task<HubException> ErrorAsync(HttpResponseMessage response, string repoId, string? revision, string? filename, CancellationToken ct,
        RepoType repoType = RepoType.Model)
    {
        string kind = repoType == RepoType.Model ? "Repository" : "Dataset repository";
        string? code = Header(response, "X-Error-Code");
        string? serverMessage = Header(response, "X-Error-Message") ?? await ReadSmallBodyAsync(response, ct).ConfigureAwait(false);
        HttpStatusCode status = response.StatusCode;
        string what = HubException.Describe(repoId, revision, filename);
        string detail = $"(HTTP {(int)status}{(code is null ? "" : ", " + code)}{(string.IsNullOrWhiteSpace(serverMessage) ? "" : ": " + serverMessage.Trim())})";
        string tokenHint = options.Token is null
            ? "If it is private or gated it needs a token: set HF_TOKEN (or HubOptions.Token)."
            : "The token that was sent may not have access to it.";

        if (code == "RepoNotFound" || (status == HttpStatusCode.NotFound && filename is null && code is null))
            return new RepositoryNotFoundException($"{kind} '{repoId}' not found at {options.Endpoint}. {tokenHint} {detail}",
                repoId, revision, filename, status);
        if (code == "RevisionNotFound")
            return new RevisionNotFoundException($"Revision '{revision}' not found in {kind.ToLowerInvariant()} '{repoId}': no such branch, tag or commit. {detail}",
                repoId, revision, filename, status);
        if (status is HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden || code == "GatedRepo")
        {
            string message = options.Token is null
                ? $"Repository '{repoId}' needs a token: set HF_TOKEN (or HubOptions.Token) to a token that can read it. {detail}"
                : status == HttpStatusCode.Unauthorized
                    ? $"The hub rejected the token for '{repoId}': check HF_TOKEN (or HubOptions.Token). {detail}"
                    : $"The token has no access to '{repoId}': if the model is gated, accept its terms on its page first. {detail}";
            return new GatedRepoException(message, repoId, revision, filename, status);
        }
        if (status == HttpStatusCode.NotFound || code == "EntryNotFound")
            return new EntryNotFoundException($"File {what} not found. {detail}", repoId, revision, filename, status);
        return new HubException($"Request for {what} failed {detail}.", repoId, revision, filename, status);
    }

    public static string? Header(HttpResponseMessage response, string name) =>
        response.Headers.TryGetValues(name, out var values) ? values.FirstOrDefault() : null;

    static async Task<string?> ReadSmallBodyAsync(HttpResponseMessage response, CancellationToken ct)
    {
        try
        {
            await using var stream = await response.Content.ReadAsStreamAsync(ct).ConfigureAwait(false);
            var buffer = new byte[1024];
            int n = 0, read;
            while (n < buffer.Length && (read = await stream.ReadAsync(buffer.AsMemory(n), ct).ConfigureAwait(false)) > 0) n += read;
            if (n == 0) return null;
            string text = System.Text.Encoding.UTF8.GetString(buffer, 0, n);
            // The hub answers {"error": "..."}; keep the message, not the JSON.
            try { return System.Text.Json.JsonDocument.Parse(text).RootElement.GetProperty("error").GetString(); }
            catch (Exception e) when (e is System.Text.Json.JsonException or KeyNotFoundException or InvalidOperationException) { return text; }
        }
        catch (Exception e) when (e is IOException or HttpRequestException) { return null; }
    }

    public void Dispose() => client.Dispose();
}
