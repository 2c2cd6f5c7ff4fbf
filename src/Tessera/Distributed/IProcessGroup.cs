namespace Tessera.Distributed;

/// <summary>
/// A group of cooperating training processes (or threads) and the collective operations data-parallel training
/// needs, in the shape of torch.distributed's process group. Every member must call the same collectives in the
/// same order with the same lengths; a member that fails calls <see cref="Abort"/> so the others do not wait forever.
/// </summary>
public interface IProcessGroup : IDisposable
{
    /// <summary>This member's index in the group, 0 to <see cref="WorldSize"/> - 1.</summary>
    int Rank { get; }

    /// <summary>How many members the group has.</summary>
    int WorldSize { get; }

    /// <summary>This member's index among the members on the same machine.</summary>
    int LocalRank { get; }

    /// <summary>Replaces <paramref name="values"/> on every member by the element-wise sum over all members.</summary>
    void AllReduceSum(Span<float> values);

    /// <summary>Replaces <paramref name="values"/> on every member by the element-wise sum over all members.</summary>
    void AllReduceSum(Span<double> values);

    /// <summary>Replaces <paramref name="values"/> on every member by the element-wise maximum over all members.</summary>
    void AllReduceMax(Span<double> values);

    /// <summary>Copies <paramref name="values"/> of member <paramref name="root"/> into <paramref name="values"/> of every other member.</summary>
    void Broadcast(Span<byte> values, int root = 0);

    /// <summary>
    /// Gathers <paramref name="send"/> of every member into <paramref name="receive"/> (length WorldSize x send length),
    /// member r's values at offset r x send length, on every member.
    /// </summary>
    void AllGather(ReadOnlySpan<double> send, Span<double> receive);

    /// <summary>Returns once every member has called it.</summary>
    void Barrier();

    /// <summary>Ends every member of the group after a failure on this one; <paramref name="reason"/> is printed first. Does not return.</summary>
    void Abort(string reason, int exitCode = 1);
}
