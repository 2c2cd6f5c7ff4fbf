using System.Text.Json;
using Microsoft.AspNetCore.Http;

namespace Tessera.Serving;

/// <summary>
/// KServe v2 / Open Inference Protocol over HTTP for ONNX models: health, model metadata and readiness, and
/// <c>POST /v2/models/{name}/infer</c> with JSON tensors. Errors are <c>{"error": "..."}</c> as the protocol says.
/// </summary>
internal sealed class KServeApi(ModelRegistry registry, ServingMetrics metrics)
{
    public Task Live(HttpContext context) => OpenAiApi.WriteJson(context, 200, OpenAiApi.Json(w => { w.WriteStartObject(); w.WriteBoolean("live", true); w.WriteEndObject(); }));

    public Task Ready(HttpContext context)
    {
        bool ready = registry.AllReady;
        return OpenAiApi.WriteJson(context, ready ? 200 : 503, OpenAiApi.Json(w => { w.WriteStartObject(); w.WriteBoolean("ready", ready); w.WriteEndObject(); }));
    }

    public Task ModelReady(HttpContext context, string name)
    {
        var entry = registry.Get(name) ?? throw NotFound(name);
        bool ready = entry.Loaded is not null;
        return OpenAiApi.WriteJson(context, ready ? 200 : 503, OpenAiApi.Json(w => { w.WriteStartObject(); w.WriteString("name", name); w.WriteBoolean("ready", ready); w.WriteEndObject(); }));
    }

    public Task Metadata(HttpContext context, string name)
    {
        var entry = registry.Get(name) ?? throw NotFound(name);
        if (entry.Kind != ModelKind.Classifier)
        {
            return OpenAiApi.WriteJson(context, 200, OpenAiApi.Json(w =>
            {
                w.WriteStartObject();
                w.WriteString("name", name);
                w.WriteString("platform", "tessera_text_generation");
                w.WriteEndObject();
            }));
        }
        var model = registry.Classifier(name);
        return OpenAiApi.WriteJson(context, 200, OpenAiApi.Json(w =>
        {
            w.WriteStartObject();
            w.WriteString("name", name);
            w.WriteStartArray("versions");
            w.WriteStringValue("1");
            w.WriteEndArray();
            w.WriteString("platform", "onnxruntime_onnx");
            w.WriteStartArray("inputs");
            foreach (var spec in model.Model.Inputs) KServeTensors.WriteSpec(w, spec);
            w.WriteEndArray();
            w.WriteStartArray("outputs");
            foreach (var spec in model.Model.Outputs) KServeTensors.WriteSpec(w, spec);
            w.WriteEndArray();
            w.WriteEndObject();
        }));
    }

    public async Task Infer(HttpContext context, string name)
    {
        var entry = registry.Get(name) ?? throw NotFound(name);
        RequestLog.Info(context).Model = name;
        var modelMetrics = metrics.For(name);
        try
        {
            if (entry.Kind != ModelKind.Classifier) throw new ApiError(400, $"model {name} generates text; use /v1/completions");
            var model = registry.Classifier(name);
            using JsonDocument document = await HttpBodies.ReadJsonAsync(context).ConfigureAwait(false);
            var inputs = KServeTensors.ReadInputs(document.RootElement, model.Model.Inputs);
            string? id = document.RootElement.TryGetProperty("id", out var i) && i.ValueKind == JsonValueKind.String ? i.GetString() : null;
            HashSet<string>? wanted = document.RootElement.TryGetProperty("outputs", out var o) && o.ValueKind == JsonValueKind.Array
                ? [.. o.EnumerateArray().Select(x => x.TryGetProperty("name", out var n) ? n.GetString() ?? "" : "")] : null;
            if (wanted?.FirstOrDefault(w => model.Model.Outputs.All(s => s.Name != w)) is string unknown)
                throw new ApiError(400, $"output \"{unknown}\" is not an output of the model; it has {string.Join(", ", model.Model.Outputs.Select(s => s.Name))}");
            var outputs = await model.InferAsync(inputs).ConfigureAwait(false);
            modelMetrics.InferStatus.GetOrAdd(200, _ => new()).Add(1);
            await OpenAiApi.WriteJson(context, 200, OpenAiApi.Json(w =>
            {
                w.WriteStartObject();
                w.WriteString("model_name", name);
                w.WriteString("model_version", "1");
                if (id is not null) w.WriteString("id", id);
                w.WriteStartArray("outputs");
                foreach (var spec in model.Model.Outputs.Where(s => wanted is null || wanted.Contains(s.Name)))
                    KServeTensors.WriteTensor(w, spec.Name, outputs[spec.Name]);
                w.WriteEndArray();
                w.WriteEndObject();
            })).ConfigureAwait(false);
        }
        catch (ApiError e)
        {
            modelMetrics.InferStatus.GetOrAdd(e.Status, _ => new()).Add(1);
            throw;
        }
    }

    static ApiError NotFound(string name) => new(404, $"model {name} is not served", code: "model_not_found");

    /// <summary>KServe's error body.</summary>
    public static byte[] ErrorBody(string message) => OpenAiApi.Json(w => { w.WriteStartObject(); w.WriteString("error", message); w.WriteEndObject(); });
}
