using System.Diagnostics;
using System.Text.Json;
using Microsoft.AspNetCore.Http;

namespace Tessera.Serving;

/// <summary>What one request's log line says beyond method, path and status (filled in by the handlers).</summary>
internal sealed class RequestLog
{
    public string? Model { get; set; }
    public GenerationRequest? Request { get; set; }
    public int? BatchRows { get; set; }
    public string? Error { get; set; }

    public static RequestLog Info(HttpContext context)
    {
        if (context.Items.TryGetValue(typeof(RequestLog), out var o) && o is RequestLog log) return log;
        var fresh = new RequestLog();
        context.Items[typeof(RequestLog)] = fresh;
        return fresh;
    }

    /// <summary>One JSON line: time, method, path, status, model, tokens, finish reason, queue/TTFT/end-to-end seconds.</summary>
    public static string Line(HttpContext context, long startedAt)
    {
        var info = context.Items.TryGetValue(typeof(RequestLog), out var o) ? o as RequestLog : null;
        return System.Text.Encoding.UTF8.GetString(OpenAiApi.Json(w =>
        {
            w.WriteStartObject();
            w.WriteString("ts", DateTimeOffset.UtcNow.ToString("O"));
            w.WriteString("method", context.Request.Method);
            w.WriteString("path", context.Request.Path.Value);
            w.WriteNumber("status", context.Response.StatusCode);
            if (info?.Model is string m) w.WriteString("model", m);
            if (info?.Request is GenerationRequest r)
            {
                w.WriteNumber("prompt_tokens", r.PromptIds.Count);
                w.WriteNumber("completion_tokens", r.GeneratedTokens);
                if (r.FinishReason is string f) w.WriteString("finish_reason", f);
                Seconds(w, "queue_s", GenerationRequest.Seconds(r.EnqueuedAt, r.StartedAt));
                Seconds(w, "ttft_s", GenerationRequest.Seconds(r.EnqueuedAt, r.FirstTokenAt));
            }
            if (info?.Error is string e) w.WriteString("error", e);
            Seconds(w, "e2e_s", GenerationRequest.Seconds(startedAt, Stopwatch.GetTimestamp()));
            w.WriteEndObject();
        }));
    }

    static void Seconds(Utf8JsonWriter w, string name, double value)
    {
        if (!double.IsNaN(value)) w.WriteNumber(name, Math.Round(value, 6));
    }
}
