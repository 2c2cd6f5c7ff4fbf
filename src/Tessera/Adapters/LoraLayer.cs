using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Tessera.Adapters;

/// <summary>
/// A layer that carries LoRA adapters (PEFT's <c>LoraLayer</c>): one low-rank pair A, B per named adapter, registered
/// on the base layer itself under PEFT's in-memory names, an active adapter whose update <see cref="Delta"/> computes,
/// and merge/unmerge of <c>scaling · B·A</c> into the base weight. <see cref="LoraLinear"/> adapts Linear and Conv1D
/// projections, <see cref="LoraEmbedding"/> embedding tables.
/// </summary>
public abstract class LoraLayer : nn.Module<Tensor, Tensor>
{
    readonly Dictionary<string, (double Scaling, double Dropout)> settings = new(StringComparer.Ordinal);
    readonly HashSet<string> merged = new(StringComparer.Ordinal);

    private protected LoraLayer(string name, nn.Module<Tensor, Tensor> baseLayer) : base(name) => BaseLayer = baseLayer;

    /// <summary>The wrapped layer.</summary>
    public nn.Module<Tensor, Tensor> BaseLayer { get; }

    /// <summary>The adapters, by name.</summary>
    public IReadOnlyCollection<string> Adapters => settings.Keys;

    /// <summary>The adapter whose update <see cref="Delta"/> adds; null adds none (base behaviour).</summary>
    public string? ActiveAdapter { get; set; }

    /// <summary>The adapters currently merged into the base weight.</summary>
    public IReadOnlyCollection<string> MergedAdapters => merged;

    /// <summary>The base layer's weight as stored.</summary>
    public abstract Tensor BaseWeight { get; }

    /// <summary>The A matrix (the one applied first) of <paramref name="adapter"/>.</summary>
    public abstract Parameter LoraA(string adapter);

    /// <summary>The B matrix (the one applied second) of <paramref name="adapter"/>.</summary>
    public abstract Parameter LoraB(string adapter);

    /// <summary>The factor applied to the update of <paramref name="adapter"/>: alpha/r, or alpha/sqrt(r) with rsLoRA.</summary>
    public double Scaling(string adapter) => settings[adapter].Scaling;

    /// <summary>Adds an adapter of rank r with PEFT's initialisation for this layer type, on the base weight's device and dtype.</summary>
    /// <exception cref="ArgumentException">The name is taken.</exception>
    public void AddAdapter(string name, LoraConfig config)
    {
        ArgumentNullException.ThrowIfNull(config);
        if (settings.ContainsKey(name)) throw new ArgumentException($"adapter \"{name}\" already exists on this layer", nameof(name));
        CreateAdapter(name, config);
        settings[name] = (config.Scaling, config.Dropout);
    }

    /// <summary>Removes an adapter (unmerging it first if merged).</summary>
    public void DeleteAdapter(string name)
    {
        if (!settings.ContainsKey(name)) return;
        if (merged.Contains(name)) Unmerge(name);
        RemoveAdapter(name);
        settings.Remove(name);
        if (ActiveAdapter == name) ActiveAdapter = null;
    }

    /// <summary>base(x) plus the active adapter's update.</summary>
    public override Tensor forward(Tensor input)
    {
        Tensor output = BaseLayer.forward(input);
        return Delta(input, BaseLayer.training) is { } delta ? output.add_(delta) : output;
    }

    /// <summary>The active adapter's update to the base layer's output for <paramref name="input"/>; null when none is active or it is merged.</summary>
    public Tensor? Delta(Tensor input, bool training)
    {
        if (ActiveAdapter is not { } name || merged.Contains(name)) return null;
        var (scaling, dropout) = settings[name];
        return ComputeDelta(name, input, training, scaling, dropout);
    }

    /// <summary>The update of <paramref name="adapter"/> (scaling · B·A) in the base weight's layout.</summary>
    public abstract Tensor DeltaWeight(string adapter);

    /// <summary>Adds <paramref name="adapter"/>'s update into the base weight; <see cref="Delta"/> then skips it.</summary>
    public void Merge(string adapter)
    {
        if (!merged.Add(adapter)) return;
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        BaseWeight.add_(DeltaWeight(adapter));
    }

    /// <summary>Subtracts a merged adapter's update from the base weight.</summary>
    public void Unmerge(string adapter)
    {
        if (!merged.Remove(adapter)) return;
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        BaseWeight.sub_(DeltaWeight(adapter));
    }

    /// <summary>Whether the adapter's parameters receive gradients.</summary>
    public void SetTrainable(string adapter, bool trainable)
    {
        LoraA(adapter).requires_grad = trainable;
        LoraB(adapter).requires_grad = trainable;
    }

    /// <summary>The adapter's tensors under the key suffixes PEFT saves them with (after <c>base_model.model.{path}.</c>).</summary>
    internal abstract IEnumerable<(string Suffix, Tensor Tensor)> SavedTensors(string adapter);

    private protected abstract void CreateAdapter(string name, LoraConfig config);

    private protected abstract void RemoveAdapter(string name);

    private protected abstract Tensor ComputeDelta(string name, Tensor input, bool training, double scaling, double dropout);

    /// <summary>Unregisters the adapter containers from the base layer.</summary>
    private protected abstract void DetachContainers();

    /// <summary>
    /// Drops every adapter without unmerging (merged updates stay in the base weight) and detaches the LoRA
    /// containers from the base layer, whose state_dict is then its own again.
    /// </summary>
    internal void Detach()
    {
        foreach (string name in settings.Keys.ToList()) RemoveAdapter(name);
        settings.Clear();
        merged.Clear();
        ActiveAdapter = null;
        DetachContainers();
    }
}
