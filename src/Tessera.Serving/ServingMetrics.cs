using System.Collections.Concurrent;
using System.Globalization;
using System.Text;

namespace Tessera.Serving;

/// <summary>
/// The server's Prometheus metrics, named as vLLM names them under a <c>tessera:</c> prefix (same meanings, label
/// <c>model_name</c>): running and waiting requests, time to first token, inter-token latency, end-to-end latency, queue
/// time, prompt and generation tokens, finished requests by reason; plus KServe inference counts and batch sizes.
/// </summary>
public sealed class ServingMetrics
{
    static readonly double[] TtftBuckets = [0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0];
    static readonly double[] ItlBuckets = [0.001, 0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 2.5];
    static readonly double[] LatencyBuckets = [0.001, 0.005, 0.01, 0.05, 0.1, 0.3, 0.5, 0.8, 1.0, 1.5, 2.0, 2.5, 5.0, 10.0, 15.0, 20.0, 30.0, 40.0, 50.0, 60.0];
    static readonly double[] BatchBuckets = [1, 2, 4, 8, 16, 32, 64, 128];

    readonly ConcurrentDictionary<string, ModelMetrics> models = new();

    /// <summary>The metrics of <paramref name="modelName"/> (created on first use).</summary>
    internal ModelMetrics For(string modelName) => models.GetOrAdd(modelName, n => new ModelMetrics(n));

    /// <summary>Everything in the Prometheus text exposition format (version 0.0.4).</summary>
    public string Render()
    {
        var all = models.Values.OrderBy(m => m.Name, StringComparer.Ordinal).ToList();
        var text = new StringBuilder();
        Gauge(text, "num_requests_running", "Number of requests in model execution batches.", all, m => m.Running());
        Gauge(text, "num_requests_waiting", "Number of requests waiting to be processed.", all, m => m.Waiting());
        Histograms(text, "time_to_first_token_seconds", "Histogram of time to first token in seconds.", all, m => m.TimeToFirstToken);
        Histograms(text, "inter_token_latency_seconds", "Histogram of inter-token latency in seconds.", all, m => m.InterTokenLatency);
        Histograms(text, "e2e_request_latency_seconds", "Histogram of end to end request latency in seconds.", all, m => m.E2eLatency);
        Histograms(text, "request_queue_time_seconds", "Histogram of time spent in WAITING phase for request.", all, m => m.QueueTime);
        Counter(text, "prompt_tokens_total", "Number of prefill tokens processed.", all.Select(m => (Labels(m.Name), m.PromptTokens.Value)));
        Counter(text, "generation_tokens_total", "Number of generation tokens processed.", all.Select(m => (Labels(m.Name), m.GenerationTokens.Value)));
        Counter(text, "request_success_total", "Count of successfully processed requests.",
            all.SelectMany(m => m.Finished.OrderBy(p => p.Key, StringComparer.Ordinal).Select(p => (Labels(m.Name, ("finished_reason", p.Key)), p.Value.Value))));
        Counter(text, "infer_requests_total", "KServe v2 inference requests by HTTP status.",
            all.SelectMany(m => m.InferStatus.OrderBy(p => p.Key).Select(p => (Labels(m.Name, ("status", p.Key.ToString(CultureInfo.InvariantCulture))), p.Value.Value))));
        Histograms(text, "infer_batch_size", "Histogram of requests per ONNX Runtime run (dynamic batching).", all, m => m.InferBatchSize);
        return text.ToString();
    }

    static string Labels(string model, params (string Name, string Value)[] more) =>
        "{" + string.Join(",", new[] { ("model_name", model) }.Concat(more).Select(l => $"{l.Item1}=\"{Escape(l.Item2)}\"")) + "}";

    static string Escape(string value) => value.Replace("\\", "\\\\").Replace("\"", "\\\"").Replace("\n", "\\n");

    static string Number(double value) => double.IsPositiveInfinity(value) ? "+Inf" : value.ToString("R", CultureInfo.InvariantCulture);

    static void Gauge(StringBuilder text, string name, string help, List<ModelMetrics> all, Func<ModelMetrics, int> value)
    {
        text.Append("# HELP tessera:").Append(name).Append(' ').Append(help).Append('\n');
        text.Append("# TYPE tessera:").Append(name).Append(" gauge\n");
        foreach (var m in all) text.Append("tessera:").Append(name).Append(Labels(m.Name)).Append(' ').Append(value(m)).Append('\n');
    }

    static void Counter(StringBuilder text, string name, string help, IEnumerable<(string Labels, long Value)> values)
    {
        string family = name[..^"_total".Length];
        text.Append("# HELP tessera:").Append(family).Append(' ').Append(help).Append('\n');
        text.Append("# TYPE tessera:").Append(family).Append(" counter\n");
        foreach (var (labels, value) in values) text.Append("tessera:").Append(name).Append(labels).Append(' ').Append(value).Append('\n');
    }

    static void Histograms(StringBuilder text, string name, string help, List<ModelMetrics> all, Func<ModelMetrics, Histogram> pick)
    {
        text.Append("# HELP tessera:").Append(name).Append(' ').Append(help).Append('\n');
        text.Append("# TYPE tessera:").Append(name).Append(" histogram\n");
        foreach (var m in all)
        {
            var (bounds, counts, sum, count) = pick(m).Snapshot();
            long cumulative = 0;
            for (int i = 0; i < bounds.Length; i++)
            {
                cumulative += counts[i];
                text.Append("tessera:").Append(name).Append("_bucket").Append(Labels(m.Name, ("le", Number(bounds[i])))).Append(' ').Append(cumulative).Append('\n');
            }
            text.Append("tessera:").Append(name).Append("_bucket").Append(Labels(m.Name, ("le", "+Inf"))).Append(' ').Append(count).Append('\n');
            text.Append("tessera:").Append(name).Append("_sum").Append(Labels(m.Name)).Append(' ').Append(Number(sum)).Append('\n');
            text.Append("tessera:").Append(name).Append("_count").Append(Labels(m.Name)).Append(' ').Append(count).Append('\n');
        }
    }

    /// <summary>One model's series.</summary>
    internal sealed class ModelMetrics(string name)
    {
        public string Name { get; } = name;
        public Func<int> Running { get; set; } = () => 0;
        public Func<int> Waiting { get; set; } = () => 0;
        public Histogram TimeToFirstToken { get; } = new(TtftBuckets);
        public Histogram InterTokenLatency { get; } = new(ItlBuckets);
        public Histogram E2eLatency { get; } = new(LatencyBuckets);
        public Histogram QueueTime { get; } = new(LatencyBuckets);
        public Histogram InferBatchSize { get; } = new(BatchBuckets);
        public CounterValue PromptTokens { get; } = new();
        public CounterValue GenerationTokens { get; } = new();
        public ConcurrentDictionary<string, CounterValue> Finished { get; } = new();
        public ConcurrentDictionary<int, CounterValue> InferStatus { get; } = new();
        public CounterValue RequestSuccess(string reason) => Finished.GetOrAdd(reason, _ => new CounterValue());
    }

    internal sealed class CounterValue
    {
        long value;
        public long Value => Interlocked.Read(ref value);
        public void Add(long amount) => Interlocked.Add(ref value, amount);
    }

    internal sealed class Histogram(double[] bounds)
    {
        readonly long[] counts = new long[bounds.Length];
        readonly Lock gate = new();
        double sum;
        long count;

        public void Observe(double value)
        {
            if (double.IsNaN(value)) return;
            int i = Array.FindIndex(bounds, b => value <= b);
            lock (gate)
            {
                if (i >= 0) counts[i]++;
                sum += value;
                count++;
            }
        }

        public (double[] Bounds, long[] Counts, double Sum, long Count) Snapshot()
        {
            lock (gate) return (bounds, [.. counts], sum, count);
        }
    }
}
