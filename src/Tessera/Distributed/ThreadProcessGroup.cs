namespace Tessera.Distributed;

/// <summary>
/// A group whose members are threads of one process: for tests of data-parallel training without MPI. Sums add the
/// members' values in rank order on every member, so all members get bit-identical results, as with MPI.
/// </summary>
public sealed class ThreadProcessGroup : IProcessGroup
{
    sealed class Shared(int worldSize)
    {
        public readonly Barrier Barrier = new(worldSize);
        public readonly object?[] Slots = new object?[worldSize];
        public readonly CancellationTokenSource Aborted = new();
        public volatile string? AbortReason;
    }

    readonly Shared shared;

    ThreadProcessGroup(Shared shared, int rank)
    {
        this.shared = shared;
        Rank = rank;
    }

    /// <summary>Creates the <paramref name="worldSize"/> members of one group; give each to its own thread.</summary>
    public static IReadOnlyList<ThreadProcessGroup> Create(int worldSize)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(worldSize);
        var shared = new Shared(worldSize);
        return Enumerable.Range(0, worldSize).Select(r => new ThreadProcessGroup(shared, r)).ToArray();
    }

    /// <inheritdoc />
    public int Rank { get; }

    /// <inheritdoc />
    public int WorldSize => shared.Slots.Length;

    /// <inheritdoc />
    public int LocalRank => Rank;

    /// <inheritdoc />
    public void AllReduceSum(Span<float> values)
    {
        var all = Exchange(values.ToArray());
        values.Clear();
        foreach (var other in all)
        {
            var o = (float[])other;
            CheckLength(o.Length, values.Length);
            for (int i = 0; i < values.Length; i++) values[i] += o[i];
        }
        Wait();
    }

    /// <inheritdoc />
    public void AllReduceSum(Span<double> values)
    {
        var all = Exchange(values.ToArray());
        values.Clear();
        foreach (var other in all)
        {
            var o = (double[])other;
            CheckLength(o.Length, values.Length);
            for (int i = 0; i < values.Length; i++) values[i] += o[i];
        }
        Wait();
    }

    /// <inheritdoc />
    public void AllReduceMax(Span<double> values)
    {
        var all = Exchange(values.ToArray());
        values.Fill(double.NegativeInfinity);
        foreach (var other in all)
        {
            var o = (double[])other;
            CheckLength(o.Length, values.Length);
            for (int i = 0; i < values.Length; i++) values[i] = Math.Max(values[i], o[i]);
        }
        Wait();
    }

    /// <inheritdoc />
    public void Broadcast(Span<byte> values, int root = 0)
    {
        if ((uint)root >= (uint)WorldSize) throw new ArgumentOutOfRangeException(nameof(root), root, $"the group has ranks 0 to {WorldSize - 1}");
        var all = Exchange(values.ToArray());
        var source = (byte[])all[root];
        CheckLength(source.Length, values.Length);
        source.CopyTo(values);
        Wait();
    }

    /// <inheritdoc />
    public void AllGather(ReadOnlySpan<double> send, Span<double> receive)
    {
        if (receive.Length != send.Length * WorldSize)
            throw new ArgumentException($"receive must hold {send.Length * WorldSize} values, not {receive.Length}", nameof(receive));
        var all = Exchange(send.ToArray());
        for (int r = 0; r < all.Length; r++)
        {
            var o = (double[])all[r];
            CheckLength(o.Length, send.Length);
            o.CopyTo(receive.Slice(r * send.Length, send.Length));
        }
        Wait();
    }

    /// <inheritdoc />
    public void Barrier() => Wait();

    /// <inheritdoc />
    public void Abort(string reason, int exitCode = 1)
    {
        shared.AbortReason ??= $"rank {Rank}: {reason}";
        shared.Aborted.Cancel();
        throw new DistributedException(shared.AbortReason);
    }

    /// <inheritdoc />
    public void Dispose() { }

    // Publishes this member's values, waits for all, and returns every member's (the caller waits once more after
    // reading, so no member overwrites its slot while another still reads it).
    object[] Exchange(object mine)
    {
        shared.Slots[Rank] = mine;
        Wait();
        return shared.Slots.Select(s => s!).ToArray();
    }

    void Wait()
    {
        try
        {
            shared.Barrier.SignalAndWait(shared.Aborted.Token);
        }
        catch (OperationCanceledException)
        {
            throw new DistributedException($"another member of the group failed ({shared.AbortReason ?? "aborted"})");
        }
    }

    static void CheckLength(int theirs, int mine)
    {
        if (theirs != mine) throw new DistributedException($"members called a collective with different lengths ({theirs} and {mine})");
    }
}
