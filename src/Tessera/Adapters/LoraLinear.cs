using Tessera.Transformers;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Tessera.Adapters;

/// <summary>
/// LoRA on one linear projection (a <see cref="Linear"/> or <see cref="FastLinear"/>, or GPT-2's <see cref="Conv1D"/> whose weight is [in, out]):
/// <c>y = base(x) + scaling · B(A(dropout(x)))</c> with A [r, in] (Kaiming-uniform, as PEFT) and B [out, r] (zeros), one
/// pair per named adapter. The A and B layers are registered on the base layer itself as <c>lora_A.{adapter}</c> and
/// <c>lora_B.{adapter}</c> (PEFT's in-memory names), so they follow the model through <c>to()</c>, <c>train()</c> and
/// any optimizer built from <c>model.parameters()</c>.
/// </summary>
public sealed class LoraLinear : LoraLayer
{
    readonly AdapterDict<Linear> loraA = new();
    readonly AdapterDict<Linear> loraB = new();

    /// <summary>Wraps <paramref name="baseLayer"/>, which must be a <see cref="Linear"/>, a <see cref="FastLinear"/> or a <see cref="Conv1D"/>.</summary>
    /// <exception cref="NotSupportedException">The layer is of another type.</exception>
    public LoraLinear(nn.Module<Tensor, Tensor> baseLayer) : base(nameof(LoraLinear), baseLayer)
    {
        (Tensor w, FanInFanOut) = baseLayer switch
        {
            Linear l => (l.weight!, false),
            FastLinear f => (f.Weight, false),
            Conv1D c => ((Tensor)c.Weight, true),
            _ => throw new NotSupportedException($"LoRA supports Linear and Conv1D layers, not {baseLayer.GetType().Name}"),
        };
        InFeatures = FanInFanOut ? w.shape[0] : w.shape[1];
        OutFeatures = FanInFanOut ? w.shape[1] : w.shape[0];
        baseLayer.register_module("lora_A", loraA);
        baseLayer.register_module("lora_B", loraB);
    }

    /// <summary>Whether the base weight is stored [in, out] (Conv1D), so the update B·A is transposed before merging.</summary>
    public bool FanInFanOut { get; }

    /// <summary>Input width.</summary>
    public long InFeatures { get; }

    /// <summary>Output width.</summary>
    public long OutFeatures { get; }

    /// <summary>A [r, in] of <paramref name="adapter"/>.</summary>
    public override Parameter LoraA(string adapter) => loraA[adapter].weight!;

    /// <summary>B [out, r] of <paramref name="adapter"/>.</summary>
    public override Parameter LoraB(string adapter) => loraB[adapter].weight!;

    /// <summary>The base layer's weight as stored (Linear [out, in], Conv1D [in, out]).</summary>
    public override Tensor BaseWeight => BaseLayer switch
    {
        Linear l => l.weight!,
        FastLinear f => f.Weight,
        _ => ((Conv1D)BaseLayer).Weight,
    };

    /// <summary>scaling · B·A of <paramref name="adapter"/> in the base weight's layout ([out, in], or [in, out] for Conv1D).</summary>
    public override Tensor DeltaWeight(string adapter)
    {
        using var scope = NewDisposeScope();
        Tensor delta = matmul(loraB[adapter].weight!, loraA[adapter].weight!).mul_(Scaling(adapter));
        if (FanInFanOut) delta = delta.t();
        return delta.contiguous().MoveToOuterDisposeScope();
    }

    internal override IEnumerable<(string Suffix, Tensor Tensor)> SavedTensors(string adapter) =>
        [("lora_A.weight", LoraA(adapter)), ("lora_B.weight", LoraB(adapter))];

    private protected override void CreateAdapter(string name, LoraConfig config)
    {
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
    }

    private protected override void RemoveAdapter(string name)
    {
        loraA.Remove(name);
        loraB.Remove(name);
    }

    private protected override Tensor ComputeDelta(string name, Tensor input, bool training, double scaling, double dropout)
    {
        Tensor x = dropout > 0 && training ? nn.functional.dropout(input, dropout, training: true) : input;
        return loraB[name].call(loraA[name].call(x)).mul_(scaling);
    }

    private protected override void DetachContainers()
    {
        BaseLayer.register_module("lora_A", null!); // TorchSharp: registering null removes the child
        BaseLayer.register_module("lora_B", null!);
    }
}
