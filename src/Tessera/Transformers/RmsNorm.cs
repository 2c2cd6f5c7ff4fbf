using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Tessera.Transformers;

/// <summary>
/// Root-mean-square layer norm as in Llama: <c>weight * (x / sqrt(mean(x²) + eps))</c>, the statistics computed in
/// float32 and the result cast back before scaling (the order <c>transformers</c>' LlamaRMSNorm uses).
/// </summary>
public sealed class RmsNorm : nn.Module<Tensor, Tensor>
{
    readonly Parameter weight;
    readonly double eps;

    /// <summary>A norm over the last dimension of size <paramref name="size"/>; the weight starts at one.</summary>
    public RmsNorm(long size, double eps = 1e-6) : base(nameof(RmsNorm))
    {
        weight = new Parameter(ones(size));
        this.eps = eps;
        RegisterComponents();
    }

    /// <summary>The scale [size].</summary>
    public Parameter Weight => weight;

    /// <summary>Normalizes the last dimension of <paramref name="input"/>.</summary>
    public override Tensor forward(Tensor input)
    {
        using var scope = NewDisposeScope();
        Tensor x = input.to_type(ScalarType.Float32);
        Tensor variance = x.pow(2).mean([-1L], keepdim: true);
        x = x * (variance + eps).rsqrt();
        return (weight * x.to_type(input.dtype)).MoveToOuterDisposeScope();
    }
}
