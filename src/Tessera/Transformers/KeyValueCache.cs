using static TorchSharp.torch;

namespace Tessera.Transformers;

/// <summary>
/// The keys and values a decoder has already computed, per layer, so generation can feed one new token at a time
/// (Hugging Face's <c>past_key_values</c> / DynamicCache). Each layer holds key and value tensors shaped
/// [batch, num_key_value_heads, cached_length, head_dim].
/// </summary>
/// <remarks>
/// The cache owns its tensors: they live outside every dispose scope until the cache is disposed or a layer is
/// updated (the previous tensors are freed then). A forward pass that receives a cache appends to it in place and
/// returns the same object.
/// </remarks>
public sealed class KeyValueCache : IDisposable
{
    readonly Tensor?[] keys;
    readonly Tensor?[] values;

    /// <summary>An empty cache for a model with <paramref name="numLayers"/> layers.</summary>
    public KeyValueCache(int numLayers)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(numLayers);
        keys = new Tensor?[numLayers];
        values = new Tensor?[numLayers];
    }

    /// <summary>Number of layers.</summary>
    public int NumLayers => keys.Length;

    /// <summary>Number of positions cached (those of layer 0; 0 when empty).</summary>
    public long SequenceLength => keys.Length == 0 || keys[0] is null ? 0 : keys[0]!.shape[2];

    /// <summary>The cached keys of <paramref name="layer"/>, or null when nothing is cached yet.</summary>
    public Tensor? Keys(int layer) => keys[layer];

    /// <summary>The cached values of <paramref name="layer"/>, or null when nothing is cached yet.</summary>
    public Tensor? Values(int layer) => values[layer];

    /// <summary>
    /// Appends <paramref name="key"/> and <paramref name="value"/> (new positions along dimension 2) to layer
    /// <paramref name="layer"/> and returns the whole cached keys and values. The returned tensors belong to the cache.
    /// </summary>
    /// <exception cref="ObjectDisposedException">The cache was disposed.</exception>
    public (Tensor Keys, Tensor Values) Update(int layer, Tensor key, Tensor value)
    {
        ObjectDisposedException.ThrowIf(disposed, this);
        Tensor? oldKey = keys[layer], oldValue = values[layer];
        Tensor newKey = oldKey is null ? key.detach() : cat([oldKey, key], 2);
        Tensor newValue = oldValue is null ? value.detach() : cat([oldValue, value], 2);
        keys[layer] = newKey.DetachFromDisposeScope();
        values[layer] = newValue.DetachFromDisposeScope();
        oldKey?.Dispose();
        oldValue?.Dispose();
        return (newKey, newValue);
    }

    /// <summary>Keeps only batch rows <paramref name="indices"/> (in that order), e.g. to drop finished sequences.</summary>
    public void SelectBatch(Tensor indices)
    {
        ObjectDisposedException.ThrowIf(disposed, this);
        for (int i = 0; i < keys.Length; i++)
        {
            if (keys[i] is null) continue;
            Tensor k = keys[i]!.index_select(0, indices).DetachFromDisposeScope();
            Tensor v = values[i]!.index_select(0, indices).DetachFromDisposeScope();
            keys[i]!.Dispose();
            values[i]!.Dispose();
            keys[i] = k;
            values[i] = v;
        }
    }

    bool disposed;

    /// <summary>Frees every cached tensor.</summary>
    public void Dispose()
    {
        if (disposed) return;
        disposed = true;
        for (int i = 0; i < keys.Length; i++)
        {
            keys[i]?.Dispose();
            values[i]?.Dispose();
            keys[i] = values[i] = null;
        }
    }
}
