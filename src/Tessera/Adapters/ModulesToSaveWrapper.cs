using Tessera.Transformers;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Tessera.Adapters;

/// <summary>
/// A module of <c>modules_to_save</c> (e.g. a classifier head): each adapter trains a full copy, registered on the
/// original as <c>modules_to_save.{adapter}</c> (PEFT's in-memory name); the active copy replaces the original's output.
/// </summary>
internal sealed class ModulesToSaveWrapper
{
    readonly AdapterDict<nn.Module<Tensor, Tensor>> copies = new();

    public ModulesToSaveWrapper(nn.Module<Tensor, Tensor> original)
    {
        Original = original;
        original.register_module("modules_to_save", copies);
    }

    public nn.Module<Tensor, Tensor> Original { get; }

    public string? ActiveAdapter { get; set; }

    public IEnumerable<string> Adapters => copies.Keys;

    public nn.Module<Tensor, Tensor> Copy(string adapter) => copies[adapter];

    public bool Has(string adapter) => copies.ContainsKey(adapter);

    public void AddAdapter(string adapter)
    {
        nn.Module<Tensor, Tensor> copy = Original switch
        {
            Linear l => nn.Linear(l.in_features, l.out_features, hasBias: l.bias is not null, device: l.weight!.device, dtype: l.weight.dtype),
            FastLinear f => new FastLinear(f.InFeatures, f.OutFeatures, hasBias: f.Bias is not null, device: f.Weight.device, dtype: f.Weight.dtype),
            Conv1D c => new Conv1D(c.Weight.shape[0], c.Weight.shape[1]).to(c.Weight.dtype).to(c.Weight.device),
            _ => throw new NotSupportedException($"modules_to_save supports Linear and Conv1D modules, not {Original.GetType().Name}"),
        };
        CopyState(Original, copy);
        copies.Add(adapter, copy);
    }

    public void DeleteAdapter(string adapter)
    {
        copies.Remove(adapter);
        if (ActiveAdapter == adapter) ActiveAdapter = null;
    }

    /// <summary>Output of the active copy, or null for the original's.</summary>
    public Tensor? Forward(Tensor input) => ActiveAdapter is { } a && copies.ContainsKey(a) ? copies[a].call(input) : null;

    /// <summary>Writes the active copy's weights into the original (merge-and-unload).</summary>
    public void MergeInto(string adapter) => CopyState(copies[adapter], Original);

    public void Detach() => Original.register_module("modules_to_save", null!); // TorchSharp: registering null removes the child

    internal static void CopyState(nn.Module from, nn.Module to)
    {
        using var noGrad = no_grad();
        var target = to.named_parameters(recurse: false).ToDictionary(p => p.name, p => p.parameter);
        foreach (var (name, p) in from.named_parameters(recurse: false))
            target[name].copy_(p);
    }
}
