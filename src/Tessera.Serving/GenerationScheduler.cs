using System.Collections.Concurrent;
using System.Diagnostics;
using Tessera.Text;
using Tessera.Text.Generation;

namespace Tessera.Serving;

/// <summary>
/// Continuous batching for one text model: a dedicated thread runs one decode step for every active sequence at a
/// time (<see cref="IDecoderBatch.Step"/>). Between steps, waiting requests are prefilled and join (up to the batch
/// limit), and finished or cancelled ones leave and free their cache. Each sequence samples with its own
/// <see cref="TokenSampler"/> (its own settings and seed), so a seeded request gets the same tokens alone or in a batch.
/// </summary>
internal sealed class GenerationScheduler : IDisposable
{
    readonly IServingDecoder decoder;
    readonly HfTokenizer tokenizer;
    readonly HashSet<int> eos;
    readonly int maxBatch, maxQueue;
    readonly ServingMetrics.ModelMetrics metrics;
    readonly ConcurrentQueue<GenerationRequest> waiting = new();
    readonly SemaphoreSlim signal = new(0);
    readonly Thread thread;
    int waitingCount, runningCount;
    volatile bool stopping;

    public GenerationScheduler(string name, IServingDecoder decoder, HfTokenizer tokenizer, IReadOnlyList<int> eosIds, int maxBatch, int maxQueue, ServingMetrics.ModelMetrics metrics)
    {
        this.decoder = decoder;
        this.tokenizer = tokenizer;
        eos = [.. eosIds];
        this.maxBatch = maxBatch;
        this.maxQueue = maxQueue;
        this.metrics = metrics;
        thread = new Thread(Loop) { IsBackground = true, Name = $"tessera-serve {name}" };
        thread.Start();
    }

    public int Waiting => Volatile.Read(ref waitingCount);
    public int Running => Volatile.Read(ref runningCount);

    /// <summary>Queues <paramref name="request"/>; false when <c>max-queue</c> requests are already waiting.</summary>
    public bool TryEnqueue(GenerationRequest request)
    {
        if (Interlocked.Increment(ref waitingCount) > maxQueue)
        {
            Interlocked.Decrement(ref waitingCount);
            return false;
        }
        waiting.Enqueue(request);
        request.Cancel.Register(() => signal.Release());
        signal.Release();
        return true;
    }

    sealed class Sequence(GenerationRequest request, HfTokenizer tokenizer)
    {
        public GenerationRequest Request { get; } = request;
        public TokenSampler Sampler { get; } = new(request.Sampling);
        public HashSet<int> Seen { get; } = [.. request.PromptIds];
        public CompletionText Text { get; } = new(tokenizer, request.PromptIds[^1], request.Stop);
        public long LastId { get; set; }
    }

    void Loop()
    {
        int vocab = decoder.VocabSize;
        var logits = new float[maxBatch * vocab];
        var active = new List<Sequence>();
        IDecoderBatch batch = decoder.CreateBatch();
        try
        {
            while (true)
            {
                if (active.Count == 0 && waiting.IsEmpty)
                {
                    if (stopping) break;
                    signal.Wait();
                    continue;
                }
                while (active.Count < maxBatch && waiting.TryDequeue(out var request))
                {
                    Interlocked.Decrement(ref waitingCount);
                    request.StartedAt = Stopwatch.GetTimestamp();
                    metrics.QueueTime.Observe(GenerationRequest.Seconds(request.EnqueuedAt, request.StartedAt));
                    if (request.Cancel.IsCancellationRequested)
                    {
                        Finish(request, "abort", "");
                        continue;
                    }
                    Span<float> row = logits.AsSpan(0, vocab);
                    try
                    {
                        batch.Add(request.PromptIds, row);
                    }
                    catch (Exception e)
                    {
                        request.Events.Writer.TryWrite(new TokenEvent("", "error", e));
                        request.Events.Writer.TryComplete();
                        continue;
                    }
                    var sequence = new Sequence(request, tokenizer);
                    active.Add(sequence);
                    if (Accept(sequence, row))
                    {
                        batch.Remove(active.Count - 1);
                        active.RemoveAt(active.Count - 1);
                    }
                }
                for (int i = active.Count - 1; i >= 0; i--)
                {
                    if (!active[i].Request.Cancel.IsCancellationRequested) continue;
                    Finish(active[i].Request, "abort", "");
                    batch.Remove(i);
                    active.RemoveAt(i);
                }
                Volatile.Write(ref runningCount, active.Count);
                if (active.Count == 0) continue;
                long[] next = [.. active.Select(s => s.LastId)];
                try
                {
                    batch.Step(next, logits.AsSpan(0, active.Count * vocab));
                }
                catch (Exception e)
                {
                    foreach (var s in active)
                    {
                        s.Request.Events.Writer.TryWrite(new TokenEvent("", "error", e));
                        s.Request.Events.Writer.TryComplete();
                    }
                    active.Clear();
                    batch.Dispose();
                    batch = decoder.CreateBatch();
                    continue;
                }
                var done = new List<int>();
                for (int i = 0; i < active.Count; i++)
                    if (Accept(active[i], logits.AsSpan(i * vocab, vocab))) done.Add(i);
                for (int k = done.Count - 1; k >= 0; k--)
                {
                    batch.Remove(done[k]);
                    active.RemoveAt(done[k]);
                }
                Volatile.Write(ref runningCount, active.Count);
            }
        }
        finally
        {
            foreach (var s in active) Finish(s.Request, "abort", "");
            while (waiting.TryDequeue(out var left)) Finish(left, "abort", "");
            Volatile.Write(ref runningCount, 0);
            batch.Dispose();
        }
    }

    /// <summary>Samples the sequence's next id from <paramref name="row"/> and hands out its text; true when it ended.</summary>
    bool Accept(Sequence s, Span<float> row)
    {
        int id = s.Sampler.Next(row, s.Seen);
        s.Seen.Add(id);
        s.LastId = id;
        var request = s.Request;
        request.GeneratedTokens++;
        string? reason = null;
        if (eos.Contains(id)) reason = "stop"; // EOS ends the text and is not part of it
        else if (s.Text.Append(id)) reason = "stop";
        else if (request.GeneratedTokens >= request.MaxNewTokens) reason = "length";
        long now = Stopwatch.GetTimestamp();
        if (request.FirstTokenAt == 0)
        {
            request.FirstTokenAt = now;
            metrics.TimeToFirstToken.Observe(GenerationRequest.Seconds(request.EnqueuedAt, now));
        }
        else metrics.InterTokenLatency.Observe(GenerationRequest.Seconds(request.LastTokenAt, now));
        request.LastTokenAt = now;
        if (reason is null)
        {
            request.Events.Writer.TryWrite(new TokenEvent(s.Text.TakePiece(final: false), null));
            return false;
        }
        s.Text.Complete();
        Finish(request, reason, s.Text.TakePiece(final: true));
        return true;
    }

    void Finish(GenerationRequest request, string reason, string text)
    {
        request.FinishReason = reason;
        long now = Stopwatch.GetTimestamp();
        metrics.E2eLatency.Observe(GenerationRequest.Seconds(request.EnqueuedAt, now));
        metrics.PromptTokens.Add(request.PromptIds.Count);
        metrics.GenerationTokens.Add(request.GeneratedTokens);
        metrics.RequestSuccess(reason).Add(1);
        request.Events.Writer.TryWrite(new TokenEvent(text, reason));
        request.Events.Writer.TryComplete();
    }

    /// <summary>Stops after the running and waiting requests are done (<see cref="Dispose"/> waits for it).</summary>
    public void Stop()
    {
        stopping = true;
        signal.Release();
    }

    public void Dispose()
    {
        Stop();
        thread.Join();
        signal.Dispose();
    }
}
