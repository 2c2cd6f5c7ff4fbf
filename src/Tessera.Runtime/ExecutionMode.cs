namespace Tessera.Runtime;

/// <summary>Whether ONNX Runtime runs independent graph branches one after another or in parallel.</summary>
public enum ExecutionMode
{
    /// <summary>One node at a time; each node may still use <see cref="OnnxSessionOptions.IntraOpThreads"/>. The default.</summary>
    Sequential,
    /// <summary>Independent branches run concurrently on <see cref="OnnxSessionOptions.InterOpThreads"/> threads.</summary>
    Parallel,
}
