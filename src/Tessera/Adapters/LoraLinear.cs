using Tessera.Transformers;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Tessera.Adapters;

/// <summary>
/// LoRA on one linear projection (a <see cref="Linear"/>, or GPT-2's <see cref="Conv1D"/> whose weight is [in, out]):
/// <c>y = base(x) + scaling · B(A(dropout(x)))</c> with A [r, in] (Kaiming-uniform, as PEFT) and B [out, r] (zeros), one
/// pair per named adapter. The A and B layers are registered on the base layer itself as <c>lora_A.{adapter}</c> and
/// <c>lora_B.{adapter}</c> (PEFT's in-memory names), so they follow the model through <c>to()</c>, <c>train()</c> and
/// any optimizer built from <c>model.parameters()</c>.
/// </summary>
public sealed class LoraLinear : nn.Module<Tensor, Tensor>
{
    readonly nn.Module<Tensor, Tensor> baseLayer;
    readonly AdapterDict<Linear> loraA = new();
    readonly AdapterDict<Linear> loraB = new();
    readonly Dictionary<string, (double Scaling, double Dropout)> settings = new(StringComparer.Ordinal);
    readonly HashSet<string> merged = new(StringComparer.Ordinal);

    /// <summary>Wraps <paramref name="baseLayer"/>, which must be a <see cref="Linear"/> or a <see cref="Conv1D"/>.</summary>
    /// <exception cref="NotSupportedException">The layer is of another type.</exception>
    public LoraLinear(nn.Module<Tensor, Tensor> baseLayer) : base(nameof(LoraLinear))
    {
        this.baseLayer = baseLayer;
        (Tensor w, FanInFanOut) = baseLayer switch
        {
            Linear l => (l.weight!, false),
            Conv1D c => ((Tensor)c.Weight, true),
            _ => throw new NotSupportedException($"LoRA supports Linear and Conv1D layers, not {baseLayer.GetType().Name}"),
        };
        InFeatures = FanInFanOut ? w.shape[0] : w.shape[1];
        OutFeatures = FanInFanOut ? w.shape[1] : w.shape[0];
        RegisterComponents();
        baseLayer.register_module("lora_A", loraA);
        baseLayer.register_module("lora_B", loraB);
    }

    /// <summary>The wrapped layer.</summary>
    public nn.Module<Tensor, Tensor> BaseLayer => baseLayer;

    /// <summary>Whether the base weight is stored [in, out] (Conv1D), so the update B·A is transposed before merging.</summary>
    public bool FanInFanOut { get; }

    /// <summary>Input width.</summary>
    public long InFeatures { get; }

    /// <summary>Output width.</summary>
    public long OutFeatures { get; }

    /// <summary>The adapters, by name.</summary>
    public IReadOnlyCollection<string> Adapters => settings.Keys;

    /// <summary>The adapter whose update <see cref="Delta"/> adds; null adds none (base behaviour).</summary>
    public string? ActiveAdapter { get; set; }

    /// <summary>The adapters currently merged into the base weight.</summary>
    public IReadOnlyCollection<string> MergedAdapters => merged;

    /// <summary>A [r, in] of <paramref name="adapter"/>.</summary>
    public Parameter LoraA(string adapter) => loraA[adapter].weight!;

    /// <summary>B [out, r] of <paramref name="adapter"/>.</summary>
    public Parameter LoraB(string adapter) => loraB[adapter].weight!;

    /// <summary>The base layer's weight as stored (Linear [out, in], Conv1D [in, out]).</summary>
    public Tensor BaseWeight => baseLayer is Linear l ? l.weight! : ((Conv1D)baseLayer).Weight;

    /// <summary>Adds an adapter of rank r with PEFT's initialisation, on the base weight's device and dtype.</summary>
    /// <exception cref="ArgumentException">The name is taken.</exception>
    public void AddAdapter(string name, LoraConfig config)
    {
        if (settings.ContainsKey(name)) throw new ArgumentException($"adapter \"{name}\" already exists on this layer", nameof(name));
        Tensor w = BaseWeight;
        var a = nn.Linear(InFeatures, config.R, hasBias: false, device: w.device, dtype: w.dtype);
        var b = nn.Linear(config.R, OutFeatures, hasBias: false, device: w.device, dtype: w.dtype);
        using (no_grad())
        {
            nn.init.kaiming_uniform_(a.weight!, a: Math.Sqrt(5));
            if (config.InitLoraWeights) b.weight!.zero_();
            else nn.init.kaiming_uniform_(b.weight!, a: Math.Sqrt(5));
        }
        loraA.Add(name, a);
        loraB.Add(name, b);
        settings[name] = (config.Scaling, config.Dropout);
    }

    /// <summary>Removes an adapter (unmerging it first if merged).</summary>
    public void DeleteAdapter(string name)
    {
        if (!settings.ContainsKey(name)) return;
        if (merged.Contains(name)) Unmerge(name);
        loraA.Remove(name);
        loraB.Remove(name);
        settings.Remove(name);
        if (ActiveAdapter == name) ActiveAdapter = null;
    }

    /// <summary>base(x) plus the active adapter's update.</summary>
    public override Tensor forward(Tensor input)
    {
        Tensor output = baseLayer.forward(input);
        return Delta(input, baseLayer.training) is { } delta ? output.add_(delta) : output;
    }

    /// <summary>The active adapter's update <c>scaling · B(A(dropout(x)))</c> [..., out]; null when none is active or it is merged.</summary>
    public Tensor? Delta(Tensor input, bool training)
    {
        if (ActiveAdapter is not { } name || merged.Contains(name)) return null;
        var (scaling, dropout) = settings[name];
        Tensor x = dropout > 0 && training ? nn.functional.dropout(input, dropout, training: true) : input;
        return loraB[name].call(loraA[name].call(x)).mul_(scaling);
    }

    /// <summary>scaling · B·A of <paramref name="adapter"/> in the base weight's layout ([out, in], or [in, out] for Conv1D).</summary>
    public Tensor DeltaWeight(string adapter)
    {
        using var scope = NewDisposeScope();
        Tensor delta = matmul(loraB[adapter].weight!, loraA[adapter].weight!).mul_(settings[adapter].Scaling);
        if (FanInFanOut) delta = delta.t();
        return delta.contiguous().MoveToOuterDisposeScope();
    }

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

    /// <summary>
    /// Drops every adapter without unmerging (merged updates stay in the base weight) and detaches the LoRA layers from
    /// the base layer, whose state_dict is then its own again.
    /// </summary>
    internal void Detach()
    {
        foreach (string name in settings.Keys.ToList())
        {
            loraA.Remove(name);
            loraB.Remove(name);
        }
        settings.Clear();
        merged.Clear();
        ActiveAdapter = null;
        ModuleSurgery.Remove(baseLayer, "lora_A");
        ModuleSurgery.Remove(baseLayer, "lora_B");
    }
}
