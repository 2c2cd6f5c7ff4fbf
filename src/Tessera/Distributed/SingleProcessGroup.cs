namespace Tessera.Distributed;

/// <summary>A group of one: every collective leaves the values as they are.</summary>
public sealed class SingleProcessGroup : IProcessGroup
{
    /// <summary>The shared instance.</summary>
    public static SingleProcessGroup Instance { get; } = new();

    /// <inheritdoc />
    public int Rank => 0;

    /// <inheritdoc />
    public int WorldSize => 1;

    /// <inheritdoc />
    public int LocalRank => 0;

    /// <inheritdoc />
    public void AllReduceSum(Span<float> values) { }

    /// <inheritdoc />
    public void AllReduceSum(Span<double> values) { }

    /// <inheritdoc />
    public void AllReduceMax(Span<double> values) { }

    /// <inheritdoc />
    public void Broadcast(Span<byte> values, int root = 0)
    {
        if (root != 0) throw new ArgumentOutOfRangeException(nameof(root), root, "a group of one has only rank 0");
    }

    /// <inheritdoc />
    public void AllGather(ReadOnlySpan<double> send, Span<double> receive)
    {
        if (receive.Length != send.Length) throw new ArgumentException($"receive must hold {send.Length} values, not {receive.Length}", nameof(receive));
        send.CopyTo(receive);
    }

    /// <inheritdoc />
    public void Barrier() { }

    /// <inheritdoc />
    public void Abort(string reason, int exitCode = 1) => throw new DistributedException(reason);

    /// <inheritdoc />
    public void Dispose() { }
}
