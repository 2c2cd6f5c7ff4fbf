using TorchSharp;
using TorchSharp.Utils;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Tessera.Diffusion;

/// <summary>
/// diffusers' spatial self-attention (<c>Attention</c> with a group norm and a residual connection, as built by the
/// UNet2D blocks): <c>group_norm</c> over channels, pixels as the sequence, <c>to_q</c>/<c>to_k</c>/<c>to_v</c>,
/// softmax attention per head with scale <c>head_dim^-0.5</c>, <c>to_out.0</c>, plus the input, divided by the
/// rescale factor. Older checkpoints name the projections <c>query</c>, <c>key</c>, <c>value</c> and <c>proj_attn</c>
/// (see <see cref="UNet2DModel.RenameLegacyKey"/>).
/// </summary>
internal sealed class UNetAttention : nn.Module<Tensor, Tensor>
{
    [ComponentName(Name = "group_norm")] readonly GroupNorm groupNorm;
    [ComponentName(Name = "to_q")] readonly Linear toQ;
    [ComponentName(Name = "to_k")] readonly Linear toK;
    [ComponentName(Name = "to_v")] readonly Linear toV;
    [ComponentName(Name = "to_out")] readonly ModuleList<nn.Module<Tensor, Tensor>> toOut;
    readonly double rescaleOutputFactor;

    public UNetAttention(long channels, int heads, int normGroups, double eps, double rescaleOutputFactor = 1.0) : base(nameof(UNetAttention))
    {
        Heads = heads;
        groupNorm = UNet2DModel.NewGroupNorm(normGroups, channels, eps);
        toQ = nn.Linear(channels, channels);
        toK = nn.Linear(channels, channels);
        toV = nn.Linear(channels, channels);
        toOut = new ModuleList<nn.Module<Tensor, Tensor>>(nn.Linear(channels, channels), nn.Dropout(0.0));
        this.rescaleOutputFactor = rescaleOutputFactor;
        RegisterComponents();
    }

    /// <summary>Number of heads.</summary>
    public int Heads { get; }

    public override Tensor forward(Tensor input)
    {
        using var scope = NewDisposeScope();
        long b = input.shape[0], c = input.shape[1], h = input.shape[2], w = input.shape[3];
        long headDim = c / Heads;
        Tensor x = groupNorm.call(input).view(b, c, h * w).transpose(1, 2); // [b, hw, c]
        Tensor Split(Linear proj) => proj.call(x).view(b, h * w, Heads, headDim).transpose(1, 2); // [b, heads, hw, d]
        Tensor y = nn.functional.scaled_dot_product_attention(Split(toQ), Split(toK), Split(toV));
        y = y.transpose(1, 2).reshape(b, h * w, c);
        y = toOut[1].call(toOut[0].call(y)).transpose(1, 2).reshape(b, c, h, w);
        Tensor output = y + input;
        if (rescaleOutputFactor != 1.0) output = output / rescaleOutputFactor;
        return output.MoveToOuterDisposeScope();
    }
}
