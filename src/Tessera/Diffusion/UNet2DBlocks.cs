using System.Globalization;
using TorchSharp;
using TorchSharp.Utils;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Tessera.Diffusion;

/// <summary>
/// diffusers' <c>DownBlock2D</c> / <c>AttnDownBlock2D</c>: <c>resnets</c> (each followed by its entry of
/// <c>attentions</c> in the attention variant) and a stride-2 <c>downsamplers.0.conv</c> unless it is the last block.
/// Returns the output and every intermediate state for the skip connections.
/// </summary>
internal sealed class UNetDownBlock : nn.Module
{
    readonly ModuleList<ResnetBlock2D> resnets = new();
    readonly ModuleList<UNetAttention> attentions = new();
    readonly ModuleList<Downsample2D> downsamplers = new();

    public UNetDownBlock(long inChannels, long outChannels, bool attention, bool addDownsample, UNet2DConfig config) : base(nameof(UNetDownBlock))
    {
        for (int i = 0; i < config.LayersPerBlock; i++)
        {
            resnets.Add(new ResnetBlock2D(i == 0 ? inChannels : outChannels, outChannels, config));
            if (attention) attentions.Add(new UNetAttention(outChannels, UNet2DModel.HeadsFor(config, outChannels), config.NormNumGroups, config.NormEps));
        }
        if (addDownsample) downsamplers.Add(new Downsample2D(outChannels, config.DownsamplePadding));
        RegisterComponents();
    }

    public Tensor Forward(Tensor x, Tensor temb, List<Tensor> states)
    {
        for (int i = 0; i < resnets.Count; i++)
        {
            x = resnets[i].call(x, temb);
            if (attentions.Count > 0) x = attentions[i].call(x);
            states.Add(x);
        }
        if (downsamplers.Count > 0)
        {
            x = downsamplers[0].call(x);
            states.Add(x);
        }
        return x;
    }
}

/// <summary>
/// diffusers' <c>UpBlock2D</c> / <c>AttnUpBlock2D</c>: <c>layers_per_block + 1</c> resnets, each on the current state
/// concatenated with the latest skip state (plus attention in the attention variant), then nearest x2 upsampling and
/// <c>upsamplers.0.conv</c> unless it is the last block.
/// </summary>
internal sealed class UNetUpBlock : nn.Module
{
    readonly ModuleList<ResnetBlock2D> resnets = new();
    readonly ModuleList<UNetAttention> attentions = new();
    readonly ModuleList<Upsample2D> upsamplers = new();

    public UNetUpBlock(long inChannels, long prevOutputChannels, long outChannels, bool attention, bool addUpsample, UNet2DConfig config) : base(nameof(UNetUpBlock))
    {
        int layers = config.LayersPerBlock + 1;
        for (int i = 0; i < layers; i++)
        {
            long skipChannels = i == layers - 1 ? inChannels : outChannels;
            long resnetIn = i == 0 ? prevOutputChannels : outChannels;
            resnets.Add(new ResnetBlock2D(resnetIn + skipChannels, outChannels, config));
            if (attention) attentions.Add(new UNetAttention(outChannels, UNet2DModel.HeadsFor(config, outChannels), config.NormNumGroups, config.NormEps));
        }
        if (addUpsample) upsamplers.Add(new Upsample2D(outChannels));
        RegisterComponents();
    }

    public int Layers => resnets.Count;

    public Tensor Forward(Tensor x, Tensor temb, List<Tensor> states)
    {
        for (int i = 0; i < resnets.Count; i++)
        {
            Tensor skip = states[^1];
            states.RemoveAt(states.Count - 1);
            x = resnets[i].call(cat([x, skip], 1), temb);
            if (attentions.Count > 0) x = attentions[i].call(x);
        }
        if (upsamplers.Count > 0) x = upsamplers[0].call(x);
        return x;
    }
}

/// <summary>diffusers' <c>UNetMidBlock2D</c>: resnet, attention (unless <c>add_attention</c> is false), resnet, scaled by <c>mid_block_scale_factor</c>.</summary>
internal sealed class UNetMidBlock : nn.Module<Tensor, Tensor, Tensor>
{
    readonly ModuleList<ResnetBlock2D> resnets = new();
    readonly ModuleList<UNetAttention> attentions = new();

    public UNetMidBlock(long channels, UNet2DConfig config) : base(nameof(UNetMidBlock))
    {
        double scale = config.MidBlockScaleFactor;
        resnets.Add(new ResnetBlock2D(channels, channels, config, scale));
        if (config.AddAttention)
            attentions.Add(new UNetAttention(channels, UNet2DModel.HeadsFor(config, channels), config.AttnNormNumGroups ?? config.NormNumGroups, config.NormEps, scale));
        resnets.Add(new ResnetBlock2D(channels, channels, config, scale));
        RegisterComponents();
    }

    public override Tensor forward(Tensor x, Tensor temb)
    {
        x = resnets[0].call(x, temb);
        if (attentions.Count > 0) x = attentions[0].call(x);
        return resnets[1].call(x, temb);
    }
}

/// <summary>diffusers' <c>Downsample2D</c> with a convolution: a 3x3 stride-2 <c>conv</c> (right/bottom zero padding first when its padding is 0).</summary>
internal sealed class Downsample2D : nn.Module<Tensor, Tensor>
{
    readonly Conv2d conv;
    readonly int padding;

    public Downsample2D(long channels, int padding) : base(nameof(Downsample2D))
    {
        this.padding = padding;
        conv = nn.Conv2d(channels, channels, 3, stride: 2, padding: padding);
        RegisterComponents();
    }

    public override Tensor forward(Tensor x)
    {
        if (padding != 0) return conv.call(x);
        using Tensor padded = nn.functional.pad(x, [0, 1, 0, 1]);
        return conv.call(padded);
    }
}

/// <summary>diffusers' <c>Upsample2D</c> with a convolution: nearest-neighbour x2, then a 3x3 <c>conv</c>.</summary>
internal sealed class Upsample2D : nn.Module<Tensor, Tensor>
{
    readonly Conv2d conv;

    public Upsample2D(long channels) : base(nameof(Upsample2D))
    {
        conv = nn.Conv2d(channels, channels, 3, padding: 1);
        RegisterComponents();
    }

    public override Tensor forward(Tensor x)
    {
        using Tensor up = nn.functional.interpolate(x, scale_factor: [2.0, 2.0], mode: InterpolationMode.Nearest);
        return conv.call(up);
    }
}

/// <summary>diffusers' <c>TimestepEmbedding</c>: <c>linear_1 → silu → linear_2</c>.</summary>
internal sealed class TimestepEmbedding : nn.Module<Tensor, Tensor>
{
    [ComponentName(Name = "linear_1")] readonly Linear linear1;
    [ComponentName(Name = "linear_2")] readonly Linear linear2;

    public TimestepEmbedding(long inChannels, long embedDim) : base(nameof(TimestepEmbedding))
    {
        linear1 = nn.Linear(inChannels, embedDim);
        linear2 = nn.Linear(embedDim, embedDim);
        RegisterComponents();
    }

    public override Tensor forward(Tensor x)
    {
        using Tensor h = nn.functional.silu(linear1.call(x));
        return linear2.call(h);
    }
}
