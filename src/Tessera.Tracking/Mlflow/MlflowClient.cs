using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;

namespace Tessera.Tracking.Mlflow;

/// <summary>
/// A client of an MLflow tracking server's REST API 2.0: experiments (get-by-name, create), runs (create, log-batch,
/// update) and artifact upload through the server's <c>mlflow-artifacts</c> proxy. <see cref="LogBatchAsync"/> splits
/// what it is given into requests within MLflow's limits (<see cref="MlflowBatch"/>). A refusal from the server
/// becomes an <see cref="MlflowException"/> naming the endpoint, MLflow's <c>error_code</c> and its message.
/// </summary>
/// <example>
/// <code>
/// using var mlflow = new MlflowClient(new Uri("http://127.0.0.1:5000"), MlflowClientOptions.FromEnvironment());
/// string experiment = await mlflow.GetOrCreateExperimentAsync("mnist");
/// var run = await mlflow.CreateRunAsync(experiment, "cnn-lr3e-3");
/// await mlflow.LogBatchAsync(run.RunId, [new MlflowMetric("loss", 0.42, DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(), 100)]);
/// await mlflow.UpdateRunAsync(run.RunId, "FINISHED");
/// </code>
/// </example>
public sealed class MlflowClient : IDisposable
{
    /// <summary>The environment variable MLflow's own clients read the tracking server from.</summary>
    public const string UriVariable = "MLFLOW_TRACKING_URI";

    readonly HttpClient http;
    readonly bool ownsHttp;
    readonly string root;
    readonly int maxRetries;
    readonly TimeSpan retryDelay;

    /// <summary>A client of the server at <paramref name="trackingUri"/> (http or https; a path prefix is kept).</summary>
    /// <param name="trackingUri">The server, e.g. <c>http://127.0.0.1:5000</c>.</param>
    /// <param name="options">Credentials and time limit; null means <see cref="MlflowClientOptions.FromEnvironment"/>.</param>
    /// <param name="httpClient">An HttpClient to send through (not disposed); null makes one.</param>
    /// <exception cref="ArgumentException"><paramref name="trackingUri"/> is not http(s).</exception>
    public MlflowClient(Uri trackingUri, MlflowClientOptions? options = null, HttpClient? httpClient = null)
    {
        ArgumentNullException.ThrowIfNull(trackingUri);
        if (!IsServerUri(trackingUri.OriginalString))
            throw new ArgumentException($"MLflow tracking URI {trackingUri} is not an http(s) server", nameof(trackingUri));
        TrackingUri = trackingUri;
        root = trackingUri.GetLeftPart(UriPartial.Path).TrimEnd('/');
        options ??= MlflowClientOptions.FromEnvironment();
        ownsHttp = httpClient is null;
        http = httpClient ?? new HttpClient { Timeout = options.Timeout };
        maxRetries = Math.Max(0, options.MaxRetries);
        retryDelay = options.RetryDelay;
        Authorization = options.Token is { } token ? new AuthenticationHeaderValue("Bearer", token)
            : options.Username is { } user ? new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes($"{user}:{options.Password}")))
            : null;
    }

    /// <summary>The server.</summary>
    public Uri TrackingUri { get; }

    AuthenticationHeaderValue? Authorization { get; }

    /// <summary>Whether <paramref name="uri"/> names a tracking server (http:// or https://) rather than a local store.</summary>
    public static bool IsServerUri(string? uri) =>
        uri is not null && (uri.StartsWith("http://", StringComparison.OrdinalIgnoreCase) || uri.StartsWith("https://", StringComparison.OrdinalIgnoreCase));

    /// <summary>
    /// <paramref name="key"/> as a metric, param or tag name MLflow accepts: characters other than letters, digits,
    /// _ - . space and / become '_', and a leading '/' or a '..' segment is removed.
    /// </summary>
    public static string SafeName(string key) => MlflowNames.Key(key);

    /// <summary>The id of the experiment called <paramref name="name"/>, or null if the server has none (experiments/get-by-name).</summary>
    /// <exception cref="MlflowException">The server refused the request or could not be reached.</exception>
    public async Task<string?> GetExperimentIdByNameAsync(string name, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        const string endpoint = "experiments/get-by-name";
        try
        {
            var response = await SendAsync(HttpMethod.Get, endpoint, $"?experiment_name={Uri.EscapeDataString(name)}", null, MlflowJsonContext.Default.GetExperimentResponse, cancellationToken).ConfigureAwait(false);
            return response.Experiment?.ExperimentId ?? throw new MlflowException($"MLflow {endpoint}: the answer has no experiment.experiment_id", endpoint);
        }
        catch (MlflowException e) when (e.ErrorCode == "RESOURCE_DOES_NOT_EXIST")
        {
            return null;
        }
    }

    /// <summary>Creates the experiment <paramref name="name"/> and returns its id (experiments/create).</summary>
    /// <exception cref="MlflowException">The server refused (for example RESOURCE_ALREADY_EXISTS) or could not be reached.</exception>
    public async Task<string> CreateExperimentAsync(string name, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        var body = Json(new CreateExperimentRequest { Name = name }, MlflowJsonContext.Default.CreateExperimentRequest);
        var response = await SendAsync(HttpMethod.Post, "experiments/create", "", body, MlflowJsonContext.Default.CreateExperimentResponse, cancellationToken).ConfigureAwait(false);
        return response.ExperimentId ?? throw new MlflowException("MLflow experiments/create: the answer has no experiment_id", "experiments/create");
    }

    /// <summary>The id of the experiment <paramref name="name"/>, created when missing (also when another client creates it at the same time).</summary>
    /// <exception cref="MlflowException">The server refused a request or could not be reached.</exception>
    public async Task<string> GetOrCreateExperimentAsync(string name, CancellationToken cancellationToken = default)
    {
        if (await GetExperimentIdByNameAsync(name, cancellationToken).ConfigureAwait(false) is { } id) return id;
        try
        {
            return await CreateExperimentAsync(name, cancellationToken).ConfigureAwait(false);
        }
        catch (MlflowException e) when (e.ErrorCode is "RESOURCE_ALREADY_EXISTS" or "ALREADY_EXISTS")
        {
            return await GetExperimentIdByNameAsync(name, cancellationToken).ConfigureAwait(false)
                ?? throw new MlflowException($"MLflow experiments/get-by-name: experiment '{name}' exists (create said so) but cannot be found", "experiments/get-by-name", e.ErrorCode, e.StatusCode, e);
        }
    }

    /// <summary>Starts a run (runs/create) in <paramref name="experimentId"/>; status RUNNING.</summary>
    /// <param name="experimentId">The experiment.</param>
    /// <param name="runName">Its name; null lets the server pick one.</param>
    /// <param name="startTime">When it started; null means now.</param>
    /// <param name="tags">Tags set at creation (mlflow.user, mlflow.source.name, ...).</param>
    /// <param name="cancellationToken">Cancels the request.</param>
    /// <exception cref="MlflowException">The server refused the request or could not be reached.</exception>
    public async Task<MlflowRunInfo> CreateRunAsync(string experimentId, string? runName = null, DateTimeOffset? startTime = null,
        IEnumerable<KeyValuePair<string, string>>? tags = null, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(experimentId);
        var request = new CreateRunRequest
        {
            ExperimentId = experimentId,
            RunName = runName,
            StartTime = (startTime ?? DateTimeOffset.UtcNow).ToUnixTimeMilliseconds(),
            Tags = (tags ?? []).Select(t => new MlflowKeyValue { Key = t.Key, Value = t.Value }).ToList(),
        };
        var response = await SendAsync(HttpMethod.Post, "runs/create", "", Json(request, MlflowJsonContext.Default.CreateRunRequest), MlflowJsonContext.Default.CreateRunResponse, cancellationToken).ConfigureAwait(false);
        var info = response.Run?.Info;
        string runId = info?.RunId ?? info?.RunUuid ?? throw new MlflowException("MLflow runs/create: the answer has no run.info.run_id", "runs/create");
        return new MlflowRunInfo(runId, info.ExperimentId ?? experimentId, info.RunName ?? runName, info.Status, info.ArtifactUri);
    }

    /// <summary>
    /// Logs metrics, params and tags to run <paramref name="runId"/> (runs/log-batch), in as many requests as MLflow's
    /// limits need (1000 metrics, 100 params, 100 tags, 1000 in all per request). Returns the number of requests sent.
    /// </summary>
    /// <exception cref="MlflowException">The server refused a request (the ones before it were logged) or could not be reached.</exception>
    public async Task<int> LogBatchAsync(string runId, IReadOnlyList<MlflowMetric>? metrics = null, IReadOnlyList<KeyValuePair<string, string>>? parameters = null,
        IReadOnlyList<KeyValuePair<string, string>>? tags = null, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(runId);
        int requests = 0;
        foreach (var (m, p, t) in MlflowBatch.Split(metrics ?? [], parameters ?? [], tags ?? []))
        {
            if (m.Count + p.Count + t.Count == 0) break;
            var request = new LogBatchRequest
            {
                RunId = runId,
                Metrics = m.Select(x => new MlflowMetricBody { Key = x.Key, Value = x.Value, Timestamp = x.Timestamp, Step = x.Step }).ToList(),
                Params = p.Select(x => new MlflowKeyValue { Key = x.Key, Value = x.Value }).ToList(),
                Tags = t.Select(x => new MlflowKeyValue { Key = x.Key, Value = x.Value }).ToList(),
            };
            await SendAsync(HttpMethod.Post, "runs/log-batch", "", Json(request, MlflowJsonContext.Default.LogBatchRequest), MlflowJsonContext.Default.EmptyResponse, cancellationToken).ConfigureAwait(false);
            requests++;
        }
        return requests;
    }

    /// <summary>Ends or changes the state of a run (runs/update): <paramref name="status"/> is RUNNING, FINISHED, FAILED or KILLED.</summary>
    /// <param name="runId">The run.</param>
    /// <param name="status">Its new status.</param>
    /// <param name="endTime">When it ended; null means now for an ended status, none for RUNNING.</param>
    /// <param name="cancellationToken">Cancels the request.</param>
    /// <exception cref="ArgumentException"><paramref name="status"/> is not one of MLflow's run statuses.</exception>
    /// <exception cref="MlflowException">The server refused the request or could not be reached.</exception>
    public async Task UpdateRunAsync(string runId, string status, DateTimeOffset? endTime = null, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(runId);
        if (status is not ("RUNNING" or "SCHEDULED" or "FINISHED" or "FAILED" or "KILLED"))
            throw new ArgumentException($"MLflow run status '{status}' is not RUNNING, SCHEDULED, FINISHED, FAILED or KILLED", nameof(status));
        long? end = endTime?.ToUnixTimeMilliseconds() ?? (status is "RUNNING" or "SCHEDULED" ? null : DateTimeOffset.UtcNow.ToUnixTimeMilliseconds());
        var request = new UpdateRunRequest { RunId = runId, Status = status, EndTime = end };
        await SendAsync(HttpMethod.Post, "runs/update", "", Json(request, MlflowJsonContext.Default.UpdateRunRequest), MlflowJsonContext.Default.UpdateRunResponse, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Uploads <paramref name="content"/> as artifact <paramref name="artifactPath"/> (relative, '/'-separated) of
    /// <paramref name="run"/> through the server's artifact proxy: PUT /api/2.0/mlflow-artifacts/artifacts/&lt;root&gt;/&lt;path&gt;,
    /// where the root comes from the run's <c>mlflow-artifacts:</c> artifact URI (&lt;experiment&gt;/&lt;run&gt;/artifacts by default).
    /// </summary>
    /// <exception cref="MlflowException">The run's artifacts are not served by the tracking server (an s3:// or local artifact URI), or the upload failed.</exception>
    public async Task UploadArtifactAsync(MlflowRunInfo run, string artifactPath, byte[] content, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(run);
        ArgumentNullException.ThrowIfNull(content);
        ArgumentException.ThrowIfNullOrEmpty(artifactPath);
        const string endpoint = "mlflow-artifacts/artifacts";
        var parts = artifactPath.Replace('\\', '/').Split('/', StringSplitOptions.RemoveEmptyEntries);
        if (parts.Length == 0 || parts.Any(p => p is "." or ".."))
            throw new ArgumentException($"artifact path '{artifactPath}' must be relative, without . or .. parts", nameof(artifactPath));
        string path = ArtifactRoot(run) + "/" + string.Join('/', parts.Select(Uri.EscapeDataString));
        await SendAsync(() =>
        {
            var request = new HttpRequestMessage(HttpMethod.Put, $"{root}/api/2.0/{endpoint}/{path}") { Content = new ByteArrayContent(content) };
            request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
            return request;
        }, endpoint, MlflowJsonContext.Default.EmptyResponse, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The run's artifact folder below the proxy's root, '/'-separated and URL-escaped.</summary>
    static string ArtifactRoot(MlflowRunInfo run)
    {
        const string scheme = "mlflow-artifacts:";
        string? uri = run.ArtifactUri;
        if (string.IsNullOrEmpty(uri)) return $"{Uri.EscapeDataString(run.ExperimentId)}/{Uri.EscapeDataString(run.RunId)}/artifacts";
        if (!uri.StartsWith(scheme, StringComparison.OrdinalIgnoreCase))
            throw new MlflowException(
                $"MLflow mlflow-artifacts/artifacts: run {run.RunId} stores its artifacts at {uri}, which the tracking server does not proxy; " +
                "start the server with artifact serving (mlflow server --serve-artifacts) to upload through it", "mlflow-artifacts/artifacts");
        // mlflow-artifacts:/1/<run>/artifacts or mlflow-artifacts://host:port/1/<run>/artifacts
        string rest = uri[scheme.Length..];
        if (rest.StartsWith("//", StringComparison.Ordinal))
        {
            int slash = rest.IndexOf('/', 2);
            rest = slash < 0 ? "" : rest[slash..];
        }
        return string.Join('/', rest.Split('/', StringSplitOptions.RemoveEmptyEntries).Select(p => Uri.EscapeDataString(Uri.UnescapeDataString(p))));
    }

    static byte[] Json<T>(T value, JsonTypeInfo<T> type) => JsonSerializer.SerializeToUtf8Bytes(value, type);

    async Task<T> SendAsync<T>(HttpMethod method, string endpoint, string query, byte[]? json, JsonTypeInfo<T> type, CancellationToken cancellationToken) =>
        await SendAsync(() =>
        {
            var request = new HttpRequestMessage(method, $"{root}/api/2.0/mlflow/{endpoint}{query}");
            if (json is not null)
            {
                request.Content = new ByteArrayContent(json);
                request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
            }
            return request;
        }, endpoint, type, cancellationToken).ConfigureAwait(false);

    /// <summary>HTTP statuses that mean "try again later" (as MLflow's own client retries them).</summary>
    static bool Transient(HttpStatusCode status) => (int)status is 429 or 500 or 502 or 503 or 504;

    async Task<T> SendAsync<T>(Func<HttpRequestMessage> makeRequest, string endpoint, JsonTypeInfo<T> type, CancellationToken cancellationToken)
    {
        for (int attempt = 0; ; attempt++)
        {
            using var request = makeRequest();
            request.Headers.Authorization = Authorization;
            request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("application/json"));
            HttpResponseMessage response;
            try
            {
                response = await http.SendAsync(request, cancellationToken).ConfigureAwait(false);
            }
            catch (HttpRequestException e)
            {
                throw new MlflowException($"MLflow {endpoint}: cannot reach the tracking server {TrackingUri}: {e.Message}", endpoint, inner: e);
            }
            catch (TaskCanceledException e) when (!cancellationToken.IsCancellationRequested)
            {
                throw new MlflowException($"MLflow {endpoint}: the tracking server {TrackingUri} did not answer within {http.Timeout.TotalSeconds:0} s", endpoint, inner: e);
            }
            if (attempt < maxRetries && Transient(response.StatusCode))
            {
                response.Dispose();
                await Task.Delay(retryDelay * (1 << Math.Min(attempt, 16)), cancellationToken).ConfigureAwait(false);
                continue;
            }
            return await ReadAsync(response, endpoint, type, cancellationToken).ConfigureAwait(false);
        }
    }

    async Task<T> ReadAsync<T>(HttpResponseMessage response, string endpoint, JsonTypeInfo<T> type, CancellationToken cancellationToken)
    {
        using (response)
        {
            string text = await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false);
            int status = (int)response.StatusCode;
            if (!response.IsSuccessStatusCode)
            {
                MlflowError? error = null;
                try { error = JsonSerializer.Deserialize(text, MlflowJsonContext.Default.MlflowError); }
                catch (JsonException) { } // not MLflow's error shape (a proxy's HTML page): the status and the start of the body say enough
                string detail = error?.ErrorCode is { } code
                    ? $"{code}: {error.Message}"
                    : $"{(text.Length > 200 ? text[..200] + "..." : text)}".Trim();
                string hint = response.StatusCode is HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden
                    ? $" (set {MlflowClientOptions.TokenVariable}, or {MlflowClientOptions.UsernameVariable} and {MlflowClientOptions.PasswordVariable})" : "";
                throw new MlflowException($"MLflow {endpoint} failed with HTTP {status}: {(detail.Length > 0 ? detail : response.ReasonPhrase)}{hint}", endpoint, error?.ErrorCode, status);
            }
            if (text.Length == 0) text = "{}";
            try
            {
                return JsonSerializer.Deserialize(text, type) ?? throw new JsonException("null");
            }
            catch (JsonException e)
            {
                throw new MlflowException($"MLflow {endpoint}: the answer is not the JSON MLflow sends: {e.Message}", endpoint, statusCode: status, inner: e);
            }
        }
    }

    /// <summary>Disposes the HttpClient the client made (not one it was given).</summary>
    public void Dispose()
    {
        if (ownsHttp) http.Dispose();
    }
}
