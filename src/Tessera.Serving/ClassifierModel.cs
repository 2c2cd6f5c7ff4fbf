using System.Diagnostics;
using System.Threading.Channels;
using Tessera.Runtime;

namespace Tessera.Serving;

/// <summary>
/// A served ONNX model for KServe v2 inference. With a batch window, requests that arrive within the window (up to
/// max-batch) and have the same non-batch shapes run as one ONNX Runtime call, concatenated along the first axis and
/// split back afterwards; without one each request runs on its own, concurrently.
/// </summary>
internal sealed class ClassifierModel : IDisposable
{
    readonly Channel<Job> jobs = Channel.CreateUnbounded<Job>(new UnboundedChannelOptions { SingleReader = true });
    readonly TimeSpan window;
    readonly int maxBatch, maxQueue;
    readonly ServingMetrics.ModelMetrics metrics;
    readonly Task batcher;
    readonly bool batchable;
    int pending;

    public ClassifierModel(string name, OnnxModel model, ServerOptions options, ServingMetrics.ModelMetrics metrics)
    {
        Name = name;
        Model = model;
        window = options.BatchWindow;
        maxBatch = options.MaxBatch;
        maxQueue = options.MaxQueue;
        this.metrics = metrics;
        metrics.Waiting = () => Volatile.Read(ref pending);
        // Batching concatenates along axis 0, so every input and output needs a dynamic first axis.
        batchable = window > TimeSpan.Zero && model.Inputs.All(i => i.Rank > 0 && i.IsDynamic(0)) && model.Outputs.All(o => o.Rank > 0 && o.IsDynamic(0));
        batcher = batchable ? Task.Run(BatchLoop) : Task.CompletedTask;
    }

    public string Name { get; }
    public OnnxModel Model { get; }

    sealed record Job(IReadOnlyDictionary<string, NamedTensor> Inputs, TaskCompletionSource<IReadOnlyDictionary<string, NamedTensor>> Result)
    {
        public string ShapeKey { get; } = string.Join(";", Inputs.OrderBy(p => p.Key, StringComparer.Ordinal).Select(p => p.Key + ":" + string.Join(",", p.Value.Shape.Skip(1))));
        public long Rows => Inputs.Values.First().Shape[0];
    }

    /// <summary>Runs <paramref name="inputs"/> (already validated against the model).</summary>
    /// <exception cref="ApiError">429 when max-queue requests are already pending.</exception>
    public async Task<IReadOnlyDictionary<string, NamedTensor>> InferAsync(IReadOnlyDictionary<string, NamedTensor> inputs)
    {
        if (Interlocked.Increment(ref pending) > maxQueue + maxBatch)
        {
            Interlocked.Decrement(ref pending);
            throw new ApiError(429, $"model {Name} has {maxQueue + maxBatch} requests pending (--max-queue {maxQueue} + --max-batch {maxBatch}); retry later", "rate_limit_error", code: "rate_limit_exceeded") { RetryAfterSeconds = 1 };
        }
        try
        {
            if (!batchable)
            {
                var result = await Task.Run(() => Model.Run(inputs)).ConfigureAwait(false);
                metrics.InferBatchSize.Observe(1);
                return result;
            }
            var job = new Job(inputs, new TaskCompletionSource<IReadOnlyDictionary<string, NamedTensor>>(TaskCreationOptions.RunContinuationsAsynchronously));
            jobs.Writer.TryWrite(job);
            return await job.Result.Task.ConfigureAwait(false);
        }
        finally
        {
            Interlocked.Decrement(ref pending);
        }
    }

    async Task BatchLoop()
    {
        var reader = jobs.Reader;
        while (await reader.WaitToReadAsync().ConfigureAwait(false))
        {
            var batch = new List<Job>();
            if (!reader.TryRead(out var first)) continue;
            batch.Add(first);
            long deadline = Stopwatch.GetTimestamp() + (long)(window.TotalSeconds * Stopwatch.Frequency);
            while (batch.Count < maxBatch)
            {
                if (reader.TryRead(out var more)) { batch.Add(more); continue; }
                long left = deadline - Stopwatch.GetTimestamp();
                if (left <= 0) break;
                var wait = reader.WaitToReadAsync().AsTask();
                if (await Task.WhenAny(wait, Task.Delay(TimeSpan.FromSeconds(left / (double)Stopwatch.Frequency))).ConfigureAwait(false) != wait) break;
                if (!await wait.ConfigureAwait(false)) break;
            }
            foreach (var group in batch.GroupBy(j => j.ShapeKey)) Run([.. group]);
        }
    }

    void Run(List<Job> group)
    {
        try
        {
            metrics.InferBatchSize.Observe(group.Count);
            if (group.Count == 1)
            {
                group[0].Result.TrySetResult(Model.Run(group[0].Inputs));
                return;
            }
            var inputs = new Dictionary<string, NamedTensor>();
            foreach (string name in group[0].Inputs.Keys) inputs[name] = KServeTensors.Concat([.. group.Select(j => j.Inputs[name])]);
            var outputs = Model.Run(inputs);
            long offset = 0;
            foreach (var job in group)
            {
                long rows = job.Rows;
                job.Result.TrySetResult(outputs.ToDictionary(p => p.Key, p => KServeTensors.Slice(p.Value, offset, rows)));
                offset += rows;
            }
        }
        catch (Exception e)
        {
            foreach (var job in group) job.Result.TrySetException(e);
        }
    }

    public void Dispose()
    {
        jobs.Writer.TryComplete();
        batcher.Wait(TimeSpan.FromSeconds(5));
        Model.Dispose();
    }
}
