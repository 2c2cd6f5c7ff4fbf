using System.Runtime.InteropServices;
using Tessera.Data;
using Tessera.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace Tessera.Distributed;

/// <summary>
/// Data-parallel training (PyTorch's DistributedDataParallel): every process holds a full replica, reads its own
/// shard of each epoch (<see cref="ShardedDataLoader{TBatch}"/>) and, once per optimizer step, the gradients are
/// summed over the processes in buckets and divided by the world size, so every replica takes the same step.
/// Parameters and buffers start from rank 0's values. Batch-norm statistics are rank 0's: its buffers are broadcast
/// before each evaluation and at the end of training, which is what PyTorch's default (broadcast_buffers) leaves.
/// Every trainable parameter should receive a gradient on every step (PyTorch's find_unused_parameters=False): a
/// missing gradient counts as zero.
/// </summary>
public sealed class DataParallelStrategy : TrainingStrategy
{
    /// <summary>Creates the strategy over <paramref name="group"/>.</summary>
    /// <param name="group">The processes that train together.</param>
    /// <param name="bucketBytes">Gradients travel in buckets of about this size (PyTorch's default 25 MB).</param>
    public DataParallelStrategy(IProcessGroup group, long bucketBytes = 25L << 20)
    {
        ArgumentNullException.ThrowIfNull(group);
        ArgumentOutOfRangeException.ThrowIfLessThan(bucketBytes, 4L);
        Group = group;
        BucketElements = (int)Math.Min(bucketBytes / sizeof(float), 1 << 30);
    }

    /// <inheritdoc />
    public override IProcessGroup Group { get; }

    /// <summary>Most gradient elements summed in one collective call.</summary>
    public int BucketElements { get; }

    /// <summary>Seconds spent in gradient all-reduces so far (copying in and out included), for benchmarks.</summary>
    public double AllReduceSeconds { get; private set; }

    /// <summary>Gradient bytes summed so far (per process), for benchmarks.</summary>
    public long AllReduceBytes { get; private set; }

    /// <summary>Optimizer steps whose gradients were all-reduced so far (the divisor of <see cref="AllReduceSeconds"/> per step).</summary>
    public long AllReduceSteps { get; private set; }

    /// <inheritdoc />
    public override IDataLoader<TBatch> Shard<TBatch>(IDataLoader<TBatch> loader) =>
        loader is ShardedDataLoader<TBatch> ? loader
        : loader is DataLoader<TBatch> d ? new ShardedDataLoader<TBatch>(d, Group.Rank, Group.WorldSize)
        : throw new ArgumentException(
            $"data-parallel training shards a Tessera DataLoader; {loader.GetType().Name} is not one: wrap its dataset in a DataLoader or pass a ShardedDataLoader", nameof(loader));

    /// <inheritdoc />
    public override void Setup(nn.Module module)
    {
        using var noGrad = no_grad();
        foreach (var (_, tensor) in module.state_dict()) BroadcastInPlace(tensor);
    }

    /// <inheritdoc />
    public override void SyncBuffers(nn.Module module)
    {
        using var noGrad = no_grad();
        foreach (var (_, buffer) in module.named_buffers()) BroadcastInPlace(buffer);
    }

    void BroadcastInPlace(Tensor tensor)
    {
        if (Group.WorldSize == 1) return;
        using var scope = NewDisposeScope();
        var staging = tensor.detach().cpu().contiguous().clone();
        Group.Broadcast(staging.bytes, root: 0);
        tensor.copy_(staging);
    }

    /// <inheritdoc />
    public override void ReduceGradients(IReadOnlyList<Tensor> parameters)
    {
        if (Group.WorldSize == 1) return;
        long started = System.Diagnostics.Stopwatch.GetTimestamp();
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        long total = parameters.Sum(p => p.numel());
        using var bucket = empty(Math.Min(total, BucketElements), ScalarType.Float32);
        float scale = 1f / Group.WorldSize;
        int start = 0;
        while (start < parameters.Count)
        {
            // Fill one bucket with consecutive parameters (a parameter larger than a bucket goes alone, in pieces).
            int end = start;
            long used = 0;
            while (end < parameters.Count && (end == start || used + parameters[end].numel() <= BucketElements))
                used += parameters[end++].numel();
            if (used <= BucketElements) ReduceBucket(parameters, start, end, bucket, scale);
            else ReduceLarge(parameters[start], bucket, scale);
            start = end;
        }
        AllReduceSeconds += System.Diagnostics.Stopwatch.GetElapsedTime(started).TotalSeconds;
        AllReduceBytes += total * sizeof(float);
        AllReduceSteps++;
    }

    void ReduceBucket(IReadOnlyList<Tensor> parameters, int start, int end, Tensor bucket, float scale)
    {
        long offset = 0;
        for (int i = start; i < end; i++)
        {
            var p = parameters[i];
            var slot = bucket.narrow(0, offset, p.numel());
            if (p.grad is { } g) slot.copy_(Float32(g, p).reshape(-1));
            else slot.zero_();
            offset += p.numel();
        }
        var values = MemoryMarshal.Cast<byte, float>(bucket.bytes)[..(int)offset];
        Group.AllReduceSum(values);
        bucket.mul_(scale);
        offset = 0;
        for (int i = start; i < end; i++)
        {
            var p = parameters[i];
            if (p.grad is { } g) g.copy_(bucket.narrow(0, offset, p.numel()).view_as(g));
            offset += p.numel();
        }
    }

    void ReduceLarge(Tensor p, Tensor bucket, float scale)
    {
        if (p.grad is not { } g) g = zeros_like(p); // keeps the collectives in step with the other ranks
        var flat = Float32(g, p).reshape(-1);
        for (long offset = 0; offset < flat.numel(); offset += BucketElements)
        {
            long n = Math.Min(BucketElements, flat.numel() - offset);
            var slot = bucket.narrow(0, 0, n);
            slot.copy_(flat.narrow(0, offset, n));
            Group.AllReduceSum(MemoryMarshal.Cast<byte, float>(bucket.bytes)[..(int)n]);
            slot.mul_(scale);
            flat.narrow(0, offset, n).copy_(slot);
        }
        if (p.grad is { } own) own.copy_(flat.view_as(own));
    }

    static Tensor Float32(Tensor grad, Tensor parameter) => grad.dtype == ScalarType.Float32 ? grad
        : throw new NotSupportedException($"data-parallel gradients are float32; a {parameter.dtype} parameter of shape [{string.Join(", ", parameter.shape)}] is not supported yet");

    /// <summary>The SHA-256 (hex) of the module state every process agreed on at the last <see cref="CheckReplicas"/>; null before.</summary>
    public string? ReplicaChecksum { get; private set; }

    /// <summary>
    /// Hashes the module's state dict (names, shapes, dtypes and bytes, in order) with SHA-256, gathers the first 64 bits
    /// from every process and compares them: replicas that took the same all-reduced steps are bit-identical.
    /// </summary>
    /// <exception cref="DistributedException">A process's state differs from rank 0's.</exception>
    public override void CheckReplicas(nn.Module module)
    {
        ArgumentNullException.ThrowIfNull(module);
        string checksum = StateChecksum(module);
        if (Group.WorldSize > 1)
        {
            // 64 bits travel as two exact 32-bit halves (AllGather carries doubles).
            ulong head = ulong.Parse(checksum.AsSpan(0, 16), System.Globalization.NumberStyles.HexNumber, System.Globalization.CultureInfo.InvariantCulture);
            Span<double> all = new double[2 * Group.WorldSize];
            Group.AllGather([head >> 32, head & 0xFFFF_FFFF], all);
            for (int r = 0; r < Group.WorldSize; r++)
                if (all[2 * r] != all[0] || all[2 * r + 1] != all[1])
                    throw new DistributedException(
                        $"the replicas diverged: rank {r}'s weights differ from rank 0's at the end of training (state checksum {(ulong)all[2 * r]:x8}{(ulong)all[2 * r + 1]:x8} vs {(ulong)all[0]:x8}{(ulong)all[1]:x8}); every process must run the same steps on the all-reduced gradients");
        }
        ReplicaChecksum = checksum;
    }

    /// <summary>SHA-256 (lower-case hex) of <paramref name="module"/>'s state dict: names, dtypes, shapes and the bytes of every tensor in order.</summary>
    public static string StateChecksum(nn.Module module)
    {
        ArgumentNullException.ThrowIfNull(module);
        using var hash = System.Security.Cryptography.IncrementalHash.CreateHash(System.Security.Cryptography.HashAlgorithmName.SHA256);
        using var noGrad = no_grad();
        foreach (var (name, tensor) in module.state_dict())
        {
            using var scope = NewDisposeScope();
            hash.AppendData(System.Text.Encoding.UTF8.GetBytes($"{name}:{tensor.dtype}:[{string.Join(",", tensor.shape)}]\n"));
            var cpu = tensor.detach().cpu().contiguous();
            hash.AppendData(cpu.bytes);
        }
        return Convert.ToHexStringLower(hash.GetHashAndReset());
    }

    /// <inheritdoc />
    public override void ReduceMetrics(IDictionary<string, double> metrics)
    {
        if (Group.WorldSize == 1 || metrics.Count == 0) return;
        var keys = metrics.Keys.Order(StringComparer.Ordinal).ToArray();
        var values = keys.Select(k => metrics[k]).ToArray();
        Group.AllReduceSum(values);
        for (int i = 0; i < keys.Length; i++) metrics[keys[i]] = values[i] / Group.WorldSize;
    }

    /// <inheritdoc />
    public override bool AnyStop(bool stop)
    {
        if (Group.WorldSize == 1) return stop;
        Span<double> flag = [stop ? 1 : 0];
        Group.AllReduceMax(flag);
        return flag[0] > 0;
    }

    /// <inheritdoc />
    public override void OnFailure(Exception error)
    {
        if (Group.WorldSize == 1 || error is DistributedException) return;
        try
        {
            Group.Abort($"{error.GetType().Name}: {error.Message}");
        }
        catch (DistributedException)
        {
            // An in-process group signals the others and throws; the original error is what the caller rethrows.
        }
    }
}
