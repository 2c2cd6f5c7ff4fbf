using TorchSharp;
using static TorchSharp.torch;

namespace Tessera.Data;

/// <summary>A mini-batch of inputs and targets. Disposing it frees both tensors.</summary>
public sealed class Batch : IDisposable
{
    /// <summary>Creates a batch that owns <paramref name="inputs"/> and <paramref name="targets"/>.</summary>
    public Batch(Tensor inputs, Tensor targets)
    {
        Inputs = inputs;
        Targets = targets;
    }

    /// <summary>Model inputs, batch dimension first (images: [N, C, H, W] float32).</summary>
    public Tensor Inputs { get; private set; }

    /// <summary>Targets, batch dimension first (class indices: [N] int64).</summary>
    public Tensor Targets { get; private set; }

    /// <summary>Number of examples.</summary>
    public long Size => Inputs.shape[0];

    /// <summary>Moves both tensors to <paramref name="device"/>, disposing the originals when they are replaced.</summary>
    public Batch To(Device device)
    {
        if (Inputs.device == device) return this;
        var inputs = Inputs.to(device);
        var targets = Targets.to(device);
        Inputs.Dispose();
        Targets.Dispose();
        Inputs = inputs;
        Targets = targets;
        return this;
    }

    /// <inheritdoc />
    public void Dispose()
    {
        Inputs.Dispose();
        Targets.Dispose();
    }
}
