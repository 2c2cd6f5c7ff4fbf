namespace Tessera.Training.Callbacks;

/// <summary>
/// Hands memory freed by a validation pass back to the operating system (glibc's <c>malloc_trim</c>, see
/// <see cref="MallocArenas.Trim"/>), so a long run's resident memory does not grow with every pass.
/// </summary>
/// <remarks>
/// Validation frees activations in another order than training, which leaves glibc's heap fragmented; the freed pages
/// stay resident until trimmed. One call per pass costs a few milliseconds.
/// </remarks>
public sealed class ReleaseFreedMemory : Callback
{
    /// <inheritdoc />
    public override void OnValidationEnd(Trainer trainer, TrainingModuleBase module) => MallocArenas.Trim();
}
