using System.Collections.Concurrent;
using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Tessera.Tests.Mlflow;

/// <summary>
/// An MLflow tracking server stand-in on 127.0.0.1 that checks every request against MLflow's REST API 2.0 as
/// documented (mlflow/protos/service.proto and the REST reference): JSON content type on POSTs, required fields,
/// field types (strings, int64 numbers, doubles or the NaN/Infinity names), no unknown fields, metric/param/tag names
/// MLflow accepts, the runs/log-batch limits (1000 metrics, 100 params, 100 tags, 1000 entities) and immutable params.
/// A violation gets MLflow's error shape (<c>{"error_code": ..., "message": ...}</c>, HTTP 400/404) and is counted in
/// <see cref="Violations"/>. Accepted data is kept like a tracking server would keep it, artifacts included.
/// It is written from the specification, independently of Tessera's client.
/// </summary>
internal sealed class FakeMlflowServer : IAsyncDisposable
{
    /// <summary>A run as the server holds it.</summary>
    public sealed class Run
    {
        public required string Id { get; init; }
        public required string ExperimentId { get; init; }
        public string? Name { get; set; }
        public string Status { get; set; } = "RUNNING";
        public long StartTime { get; init; }
        public long? EndTime { get; set; }
        public Dictionary<string, string> Params { get; } = [];
        public Dictionary<string, string> Tags { get; } = [];
        public List<(string Key, double Value, long Timestamp, long Step)> Metrics { get; } = [];
    }

    /// <summary>One request as the server saw it.</summary>
    public sealed record Seen(string Method, string Path, string Body, string? Authorization, int Status);

    static readonly Regex validName = new(@"^[/\w.\- ]*$", RegexOptions.CultureInvariant);

    readonly WebApplication app;
    readonly Lock gate = new();
    readonly Dictionary<string, string> experiments = new() { ["0"] = "Default" };
    int nextExperiment = 1;

    /// <summary>Every request, in arrival order.</summary>
    public ConcurrentQueue<Seen> Requests { get; } = new();

    /// <summary>Requests that broke the API's schema or limits, with the reason.</summary>
    public ConcurrentQueue<string> Violations { get; } = new();

    /// <summary>Runs by id.</summary>
    public ConcurrentDictionary<string, Run> Runs { get; } = new();

    /// <summary>Uploaded artifacts by path below mlflow-artifacts/artifacts/.</summary>
    public ConcurrentDictionary<string, byte[]> Artifacts { get; } = new();

    /// <summary>Endpoint (e.g. "runs/update") -> an error to answer its next request with.</summary>
    public ConcurrentDictionary<string, (int Status, string Code, string Message)> FailNext { get; } = new();

    /// <summary>Endpoint -> how many requests in a row its <see cref="FailNext"/> error answers (1 when absent).</summary>
    public ConcurrentDictionary<string, int> FailTimes { get; } = new();

    public Uri Url { get; private set; } = null!;

    FakeMlflowServer()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseKestrel(o => o.Listen(IPAddress.Loopback, 0));
        app = builder.Build();
        app.Run(HandleAsync);
    }

    public static async Task<FakeMlflowServer> StartAsync()
    {
        var server = new FakeMlflowServer();
        await server.app.StartAsync();
        server.Url = new Uri(server.app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First());
        return server;
    }

    public string ExperimentName(string id)
    {
        lock (gate) return experiments[id];
    }

    public async ValueTask DisposeAsync()
    {
        await app.StopAsync();
        await app.DisposeAsync();
    }

    sealed class Refusal(int status, string code, string message) : Exception(message)
    {
        public int Status { get; } = status;
        public string Code { get; } = code;
    }

    static Refusal Invalid(string message) => new(400, "INVALID_PARAMETER_VALUE", message);

    async Task HandleAsync(HttpContext context)
    {
        var request = context.Request;
        string path = request.Path.Value ?? "";
        using var reader = new StreamReader(request.Body);
        byte[] raw;
        using (var buffer = new MemoryStream())
        {
            await request.Body.CopyToAsync(buffer);
            raw = buffer.ToArray();
        }
        string body = System.Text.Encoding.UTF8.GetString(raw);
        int status = 200;
        string answer;
        try
        {
            answer = Handle(request, path, body, raw).ToJsonString();
        }
        catch (Refusal refusal)
        {
            status = refusal.Status;
            if (refusal.Code is "INVALID_PARAMETER_VALUE" or "ENDPOINT_NOT_FOUND" or "BAD_REQUEST") Violations.Enqueue($"{request.Method} {path}: {refusal.Message}");
            answer = new JsonObject { ["error_code"] = refusal.Code, ["message"] = refusal.Message }.ToJsonString();
        }
        Requests.Enqueue(new Seen(request.Method, path + request.QueryString, body, request.Headers.Authorization.FirstOrDefault(), status));
        context.Response.StatusCode = status;
        context.Response.ContentType = "application/json";
        await context.Response.WriteAsync(answer);
    }

    JsonNode Handle(HttpRequest request, string path, string body, byte[] raw)
    {
        const string api = "/api/2.0/mlflow/";
        const string artifacts = "/api/2.0/mlflow-artifacts/artifacts/";
        string endpoint = path.StartsWith(api, StringComparison.Ordinal) ? path[api.Length..] : path.StartsWith(artifacts, StringComparison.Ordinal) ? "mlflow-artifacts/artifacts" : path;
        if (FailNext.TryGetValue(endpoint, out var failure))
        {
            int left = FailTimes.TryGetValue(endpoint, out int times) ? times - 1 : 0;
            if (left > 0) FailTimes[endpoint] = left;
            else
            {
                FailNext.TryRemove(endpoint, out _);
                FailTimes.TryRemove(endpoint, out _);
            }
            throw new Refusal(failure.Status, failure.Code, failure.Message);
        }
        if (endpoint == "mlflow-artifacts/artifacts")
        {
            if (request.Method != "PUT") throw new Refusal(405, "BAD_REQUEST", $"{request.Method} is not allowed on {path}");
            string relative = Uri.UnescapeDataString(path[artifacts.Length..]);
            if (relative.Split('/').Any(p => p is "" or "." or "..")) throw Invalid($"Invalid artifact path: '{relative}'");
            Artifacts[relative] = raw;
            return new JsonObject();
        }
        if (endpoint == "experiments/get-by-name")
        {
            Expect(request, "GET", endpoint);
            string? name = request.Query["experiment_name"].FirstOrDefault();
            if (string.IsNullOrEmpty(name)) throw Invalid("Missing value for required parameter 'experiment_name'.");
            lock (gate)
            {
                var found = experiments.FirstOrDefault(e => e.Value == name);
                if (found.Key is null) throw new Refusal(404, "RESOURCE_DOES_NOT_EXIST", $"Could not find experiment with name '{name}'");
                return new JsonObject { ["experiment"] = Experiment(found.Key, found.Value) };
            }
        }
        Expect(request, "POST", endpoint);
        if (request.ContentType is not { } type || !type.StartsWith("application/json", StringComparison.Ordinal))
            throw Invalid($"{endpoint}: content type must be application/json, got '{request.ContentType}'");
        JsonObject json;
        try { json = JsonNode.Parse(body) as JsonObject ?? throw Invalid($"{endpoint}: the body is not a JSON object"); }
        catch (JsonException e) { throw new Refusal(400, "MALFORMED_REQUEST", $"{endpoint}: malformed JSON: {e.Message}"); }
        return endpoint switch
        {
            "experiments/create" => CreateExperiment(json),
            "runs/create" => CreateRun(json),
            "runs/log-batch" => LogBatch(json),
            "runs/update" => UpdateRun(json),
            _ => throw new Refusal(404, "ENDPOINT_NOT_FOUND", $"No endpoint {request.Method} {path}"),
        };
    }

    static void Expect(HttpRequest request, string method, string endpoint)
    {
        if (request.Method != method) throw new Refusal(405, "BAD_REQUEST", $"{endpoint} takes {method}, not {request.Method}");
    }

    JsonObject Experiment(string id, string name) => new()
    {
        ["experiment_id"] = id,
        ["name"] = name,
        ["artifact_location"] = $"mlflow-artifacts:/{id}",
        ["lifecycle_stage"] = "active",
    };

    JsonNode CreateExperiment(JsonObject json)
    {
        Fields(json, "experiments/create", "name", "artifact_location", "tags");
        string name = RequiredString(json, "name");
        lock (gate)
        {
            if (experiments.ContainsValue(name)) throw new Refusal(400, "RESOURCE_ALREADY_EXISTS", $"Experiment '{name}' already exists.");
            string id = (nextExperiment++).ToString(System.Globalization.CultureInfo.InvariantCulture);
            experiments[id] = name;
            return new JsonObject { ["experiment_id"] = id };
        }
    }

    JsonNode CreateRun(JsonObject json)
    {
        Fields(json, "runs/create", "experiment_id", "user_id", "run_name", "start_time", "tags");
        string experimentId = RequiredString(json, "experiment_id");
        string? name = OptionalString(json, "run_name");
        long start = json["start_time"] is null ? DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() : Int64(json["start_time"]!, "start_time");
        var tags = KeyValues(json, "tags", 250, 8000);
        lock (gate)
            if (!experiments.ContainsKey(experimentId)) throw new Refusal(404, "RESOURCE_DOES_NOT_EXIST", $"No Experiment with id={experimentId} exists");
        if (tags.Count > 1000) throw Invalid($"A request can contain at most 1000 tags. Got {tags.Count} tags.");
        var run = new Run { Id = Guid.NewGuid().ToString("N"), ExperimentId = experimentId, Name = name, StartTime = start };
        foreach (var (key, value) in tags) run.Tags[key] = value;
        if (name is not null) run.Tags["mlflow.runName"] = name;
        Runs[run.Id] = run;
        return new JsonObject { ["run"] = new JsonObject { ["info"] = Info(run), ["data"] = new JsonObject() } };
    }

    static JsonObject Info(Run run) => new()
    {
        ["run_id"] = run.Id,
        ["run_uuid"] = run.Id,
        ["experiment_id"] = run.ExperimentId,
        ["run_name"] = run.Name,
        ["status"] = run.Status,
        ["start_time"] = run.StartTime,
        ["end_time"] = run.EndTime,
        ["artifact_uri"] = $"mlflow-artifacts:/{run.ExperimentId}/{run.Id}/artifacts",
        ["lifecycle_stage"] = "active",
    };

    JsonNode LogBatch(JsonObject json)
    {
        Fields(json, "runs/log-batch", "run_id", "metrics", "params", "tags");
        var run = FindRun(RequiredString(json, "run_id"));
        var metrics = Array(json, "metrics");
        var parameters = KeyValues(json, "params", 250, 6000);
        var tags = KeyValues(json, "tags", 250, 8000);
        // MLflow's own limits and messages (mlflow/utils/validation.py).
        if (metrics.Count > 1000) throw Invalid($"A batch logging request can contain at most 1000 metrics. Got {metrics.Count} metrics. Please split up metrics across multiple requests and try again.");
        if (parameters.Count > 100) throw Invalid($"A batch logging request can contain at most 100 params. Got {parameters.Count} params. Please split up params across multiple requests and try again.");
        if (tags.Count > 100) throw Invalid($"A batch logging request can contain at most 100 tags. Got {tags.Count} tags. Please split up tags across multiple requests and try again.");
        int total = metrics.Count + parameters.Count + tags.Count;
        if (total > 1000) throw Invalid($"A batch logging request can contain at most 1000 metrics, params, and tags in total. Got {total} in total. Please split up across multiple requests and try again.");
        var points = new List<(string, double, long, long)>();
        foreach (var node in metrics)
        {
            if (node is not JsonObject metric) throw Invalid("runs/log-batch: each of metrics must be an object");
            Fields(metric, "runs/log-batch metrics[]", "key", "value", "timestamp", "step", "model_id", "dataset_name", "dataset_digest", "run_id");
            string key = Name(RequiredString(metric, "key"), "metric");
            double value = Double(metric["value"] ?? throw Invalid($"Missing value for required parameter 'metrics[].value' of metric '{key}'"), key);
            long timestamp = Int64(metric["timestamp"] ?? throw Invalid($"Missing value for required parameter 'metrics[].timestamp' of metric '{key}'"), "timestamp");
            long step = metric["step"] is null ? 0 : Int64(metric["step"]!, "step");
            points.Add((key, value, timestamp, step));
        }
        lock (gate)
        {
            foreach (var (key, value) in parameters)
                if (run.Params.TryGetValue(key, out string? old) && old != value)
                    throw Invalid($"Changing param values is not allowed. Param with key='{key}' was already logged with value='{old}' for run ID='{run.Id}'. Attempted logging new value '{value}'.");
            foreach (var (key, value) in parameters) run.Params[key] = value;
            foreach (var (key, value) in tags) run.Tags[key] = value;
            run.Metrics.AddRange(points);
        }
        return new JsonObject();
    }

    JsonNode UpdateRun(JsonObject json)
    {
        Fields(json, "runs/update", "run_id", "run_uuid", "status", "end_time", "run_name");
        var run = FindRun(OptionalString(json, "run_id") ?? RequiredString(json, "run_uuid"));
        if (OptionalString(json, "status") is { } status)
        {
            if (status is not ("RUNNING" or "SCHEDULED" or "FINISHED" or "FAILED" or "KILLED")) throw Invalid($"Invalid value '{status}' for parameter 'status': not a RunStatus");
            run.Status = status;
        }
        if (json["end_time"] is { } end) run.EndTime = Int64(end, "end_time");
        if (OptionalString(json, "run_name") is { } name) run.Name = name;
        return new JsonObject { ["run_info"] = Info(run) };
    }

    Run FindRun(string id) => Runs.TryGetValue(id, out var run) ? run : throw new Refusal(404, "RESOURCE_DOES_NOT_EXIST", $"Run with id={id} not found");

    static void Fields(JsonObject json, string where, params string[] allowed)
    {
        foreach (var (name, _) in json)
            if (!allowed.Contains(name)) throw Invalid($"{where}: unknown field '{name}' (expected {string.Join(", ", allowed)})");
    }

    static string RequiredString(JsonObject json, string field) =>
        OptionalString(json, field) ?? throw Invalid($"Missing value for required parameter '{field}'.");

    static string? OptionalString(JsonObject json, string field) => json[field] switch
    {
        null => null,
        JsonValue v when v.GetValueKind() == JsonValueKind.String => v.GetValue<string>(),
        var other => throw Invalid($"Invalid value {other.ToJsonString()} for parameter '{field}' supplied: expected a string"),
    };

    static JsonArray Array(JsonObject json, string field) => json[field] switch
    {
        null => [],
        JsonArray a => a,
        var other => throw Invalid($"Invalid value {other.ToJsonString()} for parameter '{field}' supplied: expected an array"),
    };

    static List<(string Key, string Value)> KeyValues(JsonObject json, string field, int maxKey, int maxValue)
    {
        var list = new List<(string, string)>();
        foreach (var node in Array(json, field))
        {
            if (node is not JsonObject item) throw Invalid($"each of {field} must be an object with key and value");
            Fields(item, $"{field}[]", "key", "value");
            string key = Name(RequiredString(item, "key"), field);
            string value = RequiredString(item, "value");
            if (key.Length > maxKey) throw Invalid($"{field} key '{key[..20]}...' is longer than {maxKey}");
            if (value.Length > maxValue) throw Invalid($"{field} '{key}' has a value of {value.Length} characters; at most {maxValue}");
            list.Add((key, value));
        }
        return list;
    }

    static string Name(string key, string kind) =>
        validName.IsMatch(key) && !key.StartsWith('/') && !key.Split('/').Contains("..") ? key
            : throw Invalid($"Invalid {kind} name: '{key}'. Names may only contain alphanumerics, underscores (_), dashes (-), periods (.), spaces ( ), and slashes (/).");

    // int64 travels as a JSON number or, in protobuf's JSON mapping, a decimal string.
    static long Int64(JsonNode node, string field) => node is JsonValue v && v.GetValueKind() switch
    {
        JsonValueKind.Number => v.TryGetValue(out long _),
        JsonValueKind.String => long.TryParse(v.GetValue<string>(), out _),
        _ => false,
    }
        ? v.GetValueKind() == JsonValueKind.Number ? v.GetValue<long>() : long.Parse(v.GetValue<string>(), System.Globalization.CultureInfo.InvariantCulture)
        : throw Invalid($"Invalid value {node.ToJsonString()} for parameter '{field}' supplied: expected an int64");

    static double Double(JsonNode node, string key) => node is JsonValue v && v.GetValueKind() == JsonValueKind.Number ? v.GetValue<double>()
        : node is JsonValue s && s.GetValueKind() == JsonValueKind.String && s.GetValue<string>() is "NaN" or "Infinity" or "-Infinity" ? double.Parse(s.GetValue<string>(), System.Globalization.CultureInfo.InvariantCulture)
        : throw Invalid($"Invalid value {node.ToJsonString()} for metric '{key}': expected a double");
}
