using TorchSharp;
using TorchSharp.Utils;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Tessera.Diffusion;

/// <summary>
/// diffusers' <c>ResnetBlock2D</c>: <c>norm1 → act → conv1</c>, the projected time embedding added (or applied as
/// scale and shift after <c>norm2</c>), <c>norm2 → act → dropout → conv2</c>, plus the input (through a 1x1
/// <c>conv_shortcut</c> when the channel count changes), divided by the output scale factor.
/// </summary>
internal sealed class ResnetBlock2D : nn.Module<Tensor, Tensor, Tensor>
{
    readonly GroupNorm norm1;
    readonly Conv2d conv1;
    [ComponentName(Name = "time_emb_proj")] readonly Linear timeEmbProj;
    readonly GroupNorm norm2;
    readonly Dropout dropout;
    readonly Conv2d conv2;
    [ComponentName(Name = "conv_shortcut")] readonly Conv2d? convShortcut;
    readonly string activation;
    readonly bool scaleShift;
    readonly double outputScaleFactor;

    public ResnetBlock2D(long inChannels, long outChannels, UNet2DConfig config, double outputScaleFactor = 1.0) : base(nameof(ResnetBlock2D))
    {
        norm1 = UNet2DModel.NewGroupNorm(config.NormNumGroups, inChannels, config.NormEps);
        conv1 = nn.Conv2d(inChannels, outChannels, 3, padding: 1);
        scaleShift = config.ResnetTimeScaleShift == "scale_shift";
        timeEmbProj = nn.Linear(config.TimeEmbedDim, scaleShift ? 2 * outChannels : outChannels);
        norm2 = UNet2DModel.NewGroupNorm(config.NormNumGroups, outChannels, config.NormEps);
        dropout = nn.Dropout(config.Dropout);
        conv2 = nn.Conv2d(outChannels, outChannels, 3, padding: 1);
        if (inChannels != outChannels) convShortcut = nn.Conv2d(inChannels, outChannels, 1);
        activation = config.ActFn;
        this.outputScaleFactor = outputScaleFactor;
        RegisterComponents();
    }

    internal static Tensor Activate(string name, Tensor x) => name switch
    {
        "silu" or "swish" => nn.functional.silu(x),
        "mish" => nn.functional.mish(x),
        "gelu" => nn.functional.gelu(x),
        "relu" => nn.functional.relu(x),
        _ => throw new ArgumentException($"unsupported activation \"{name}\""),
    };

    public override Tensor forward(Tensor input, Tensor temb)
    {
        using var scope = NewDisposeScope();
        Tensor h = conv1.call(Activate(activation, norm1.call(input)));
        Tensor t = timeEmbProj.call(Activate(activation, temb)).unsqueeze(-1).unsqueeze(-1);
        if (scaleShift)
        {
            Tensor[] parts = t.chunk(2, 1);
            h = norm2.call(h) * (parts[0] + 1) + parts[1];
        }
        else
        {
            h = norm2.call(h + t);
        }
        h = conv2.call(dropout.call(Activate(activation, h)));
        Tensor shortcut = convShortcut is null ? input : convShortcut.call(input);
        Tensor output = shortcut + h;
        if (outputScaleFactor != 1.0) output = output / outputScaleFactor;
        return output.MoveToOuterDisposeScope();
    }
}
