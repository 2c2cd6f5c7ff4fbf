using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Tessera.Transformers;

/// <summary>
/// GPT-2's "Conv1D": a linear layer whose weight is stored transposed, [in_features, out_features], so that
/// <c>y = x @ weight + bias</c>. Kept as its own module so GPT-2 checkpoints load without transposing.
/// </summary>
public sealed class Conv1D : nn.Module<Tensor, Tensor>
{
    readonly Parameter weight;
    readonly Parameter bias;

    /// <summary>A layer mapping <paramref name="inFeatures"/> to <paramref name="outFeatures"/>, weights ~ N(0, <paramref name="std"/>²), bias zero.</summary>
    public Conv1D(long inFeatures, long outFeatures, double std = 0.02) : base(nameof(Conv1D))
    {
        weight = new Parameter(normal(0, std, [inFeatures, outFeatures]));
        bias = new Parameter(zeros(outFeatures));
        RegisterComponents();
    }

    /// <summary>The weight [in_features, out_features].</summary>
    public Parameter Weight => weight;

    /// <summary>The bias [out_features].</summary>
    public Parameter Bias => bias;

    /// <summary>x [..., in_features] → [..., out_features].</summary>
    public override Tensor forward(Tensor input) => DecodeMatMul.TryConv1D(input, weight, bias) ?? matmul(input, weight).add_(bias);
}
