using Tessera.Data.Transforms;
using TorchSharp;
using static TorchSharp.torch;

namespace Tessera.Data;

/// <summary>
/// Examples held in two tensors: inputs [N, ...] and targets [N]. A batch is cut with one <c>index_select</c>
/// per tensor, then <see cref="Transform"/> (if any) runs on the batch's inputs.
/// </summary>
public sealed class TensorDataset : ISeededDataset<Batch>, IDisposable
{
    /// <summary>
    /// Creates the dataset and takes ownership of both tensors: they are detached from any dispose scope and freed by
    /// <see cref="Dispose"/>.
    /// </summary>
    /// <exception cref="ArgumentException">The tensors disagree on N, or <paramref name="targets"/> is not one-dimensional.</exception>
    public TensorDataset(Tensor inputs, Tensor targets, ITransform? transform = null)
    {
        ArgumentNullException.ThrowIfNull(inputs);
        ArgumentNullException.ThrowIfNull(targets);
        if (inputs.dim() < 1 || targets.dim() != 1 || inputs.shape[0] != targets.shape[0])
            throw new ArgumentException(
                $"Expected inputs [N, ...] and targets [N]; got [{string.Join(", ", inputs.shape)}] and [{string.Join(", ", targets.shape)}].");
        if (inputs.shape[0] > int.MaxValue)
            throw new ArgumentException($"At most {int.MaxValue} examples are supported.", nameof(inputs));
        Inputs = inputs.DetachFromDisposeScope();
        Targets = targets.DetachFromDisposeScope();
        Transform = transform;
    }

    /// <summary>All inputs, [N, ...].</summary>
    public Tensor Inputs { get; }

    /// <summary>All targets, [N].</summary>
    public Tensor Targets { get; }

    /// <summary>Applied to the inputs of every batch (augmentation, normalization); null for none.</summary>
    public ITransform? Transform { get; set; }

    /// <inheritdoc />
    public int Count => (int)Inputs.shape[0];

    /// <summary>
    /// Builds a batch without a loader's generator; a configured <see cref="Transform"/> draws from
    /// <c>new SeededRandom(0)</c>, so the result is still deterministic.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">An index is outside [0, <see cref="Count"/>).</exception>
    public Batch GetBatch(ReadOnlySpan<int> indices) => GetBatch(indices, new SeededRandom(0));

    /// <inheritdoc />
    /// <exception cref="ArgumentOutOfRangeException">An index is outside [0, <see cref="Count"/>).</exception>
    public Batch GetBatch(ReadOnlySpan<int> indices, SeededRandom rng)
    {
        int count = Count;
        var idx = new long[indices.Length];
        for (int i = 0; i < indices.Length; i++)
        {
            if ((uint)indices[i] >= (uint)count)
                throw new ArgumentOutOfRangeException(nameof(indices), indices[i], $"Index outside a dataset of {count} examples.");
            idx[i] = indices[i];
        }

        using var scope = NewDisposeScope();
        var index = torch.tensor(idx, device: Inputs.device);
        var inputs = Inputs.index_select(0, index);
        var targets = Targets.index_select(0, index.device == Targets.device ? index : index.to(Targets.device));
        if (Transform is { } transform)
            inputs = transform.Apply(inputs, rng);
        return new Batch(inputs.MoveToOuterDisposeScope(), targets.MoveToOuterDisposeScope());
    }

    /// <summary>Frees <see cref="Inputs"/> and <see cref="Targets"/>.</summary>
    public void Dispose()
    {
        Inputs.Dispose();
        Targets.Dispose();
    }
}
