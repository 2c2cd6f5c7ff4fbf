using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Tessera.Transformers;

/// <summary>
/// A linear layer, <c>y = x·weightᵀ + bias</c> with weight [out_features, in_features], that holds the same parameters
/// under the same names as <c>nn.Linear</c> (<c>weight</c>, <c>bias</c>), so checkpoints and state_dict keys are those of
/// <c>torch.nn.Linear</c>. Its forward runs Tessera's single-row decode kernel when that applies (one input row, fp32 on
/// the CPU, nothing for autograd to record) and libtorch's <c>linear</c> otherwise. Call it through <c>call()</c> like any
/// module: forward hooks (LoRA adapters, <c>modules_to_save</c>) then see every call, the kernel's included.
/// </summary>
/// <remarks>TorchSharp's <see cref="Linear"/> is sealed, hence a module of our own rather than a subclass.</remarks>
public sealed class FastLinear : nn.Module<Tensor, Tensor>
{
    readonly Parameter weight;
    readonly Parameter? bias;

    /// <summary>
    /// A layer mapping <paramref name="inFeatures"/> to <paramref name="outFeatures"/>, initialised as <c>nn.Linear</c>
    /// (weight Kaiming-uniform with a = √5, bias uniform in ±1/√in_features).
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">A size is not positive.</exception>
    public FastLinear(long inFeatures, long outFeatures, bool hasBias = true, Device? device = null, ScalarType? dtype = null) : base(nameof(FastLinear))
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(inFeatures);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(outFeatures);
        InFeatures = inFeatures;
        OutFeatures = outFeatures;
        weight = new Parameter(empty([outFeatures, inFeatures], dtype: dtype, device: device));
        bias = hasBias ? new Parameter(empty([outFeatures], dtype: dtype, device: device)) : null;
        using (no_grad())
        {
            nn.init.kaiming_uniform_(weight, a: Math.Sqrt(5));
            if (bias is not null)
            {
                double bound = 1 / Math.Sqrt(inFeatures);
                nn.init.uniform_(bias, -bound, bound);
            }
        }
        RegisterComponents();
    }

    /// <summary>Input width.</summary>
    public long InFeatures { get; }

    /// <summary>Output width.</summary>
    public long OutFeatures { get; }

    /// <summary>The weight [out_features, in_features].</summary>
    public Parameter Weight => weight;

    /// <summary>The bias [out_features], or null for a layer without one.</summary>
    public Parameter? Bias => bias;

    /// <summary>x [..., in_features] → [..., out_features].</summary>
    public override Tensor forward(Tensor input) => DecodeMatMul.TryLinear(input, weight, bias) ?? nn.functional.linear(input, weight, bias);
}
