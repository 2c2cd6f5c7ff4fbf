using static TorchSharp.torch;

namespace Tessera.Data;

/// <summary>A batch of tokenized texts for sequence classification: ids and attention mask [batch, length] and labels [batch], all int64.</summary>
public sealed class ClassificationBatch : IDisposable
{
    /// <summary>Takes ownership of the tensors.</summary>
    public ClassificationBatch(Tensor inputIds, Tensor attentionMask, Tensor labels)
    {
        InputIds = inputIds;
        AttentionMask = attentionMask;
        Labels = labels;
    }

    /// <summary>Token ids [batch, length], padded.</summary>
    public Tensor InputIds { get; private set; }

    /// <summary>1 for real tokens, 0 for padding [batch, length].</summary>
    public Tensor AttentionMask { get; private set; }

    /// <summary>Label ids [batch].</summary>
    public Tensor Labels { get; private set; }

    /// <summary>Number of examples.</summary>
    public long Size => InputIds.shape[0];

    /// <summary>Moves the tensors to <paramref name="device"/>, disposing the originals when they are replaced.</summary>
    public ClassificationBatch To(Device device)
    {
        if (InputIds.device == device) return this;
        Tensor ids = InputIds.to(device), mask = AttentionMask.to(device), labels = Labels.to(device);
        Dispose();
        (InputIds, AttentionMask, Labels) = (ids, mask, labels);
        return this;
    }

    /// <inheritdoc />
    public void Dispose()
    {
        InputIds.Dispose();
        AttentionMask.Dispose();
        Labels.Dispose();
    }
}
