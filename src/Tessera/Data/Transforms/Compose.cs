using static TorchSharp.torch;

namespace Tessera.Data.Transforms;

/// <summary>Applies transforms one after another, all drawing from the same generator, freeing intermediate results.</summary>
public sealed class Compose : ITransform
{
    private readonly ITransform[] _transforms;

    /// <summary>Creates the pipeline; <paramref name="transforms"/> run in the given order.</summary>
    public Compose(params ITransform[] transforms)
    {
        ArgumentNullException.ThrowIfNull(transforms);
        _transforms = (ITransform[])transforms.Clone();
    }

    /// <summary>The transforms, in the order they run.</summary>
    public IReadOnlyList<ITransform> Transforms => _transforms;

    /// <inheritdoc />
    public Tensor Apply(Tensor batchInputs, SeededRandom rng)
    {
        if (_transforms.Length == 0) return batchInputs.clone();
        Tensor current = batchInputs;
        foreach (var transform in _transforms)
        {
            var next = transform.Apply(current, rng);
            if (!ReferenceEquals(current, batchInputs)) current.Dispose();
            current = next;
        }
        return current;
    }
}
