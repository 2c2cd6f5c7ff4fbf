using System.Runtime.InteropServices;
using Tessera.Diffusion;
using Tessera.Formats.SafeTensors;
using static TorchSharp.torch;

namespace Tessera.Tests.Diffusion;

/// <summary>
/// Tiny UNet2D configs for the tests. Every 3x3 convolution has 16 or fewer input channels or a multiple of 16:
/// libtorch 2.10's oneDNN avx512_core f32 convolution gives wrong values for 3x3 convs with more than 16 input
/// channels that are not a multiple of 16 at batch &gt; 1 on some AVX-512 CPUs (see ResNetTests).
/// </summary>
static class UNetTestConfigs
{
    /// <summary>Attention down/up blocks, the mid attention, a class embedding table, conv_shortcut in every block that changes width, DDPM-CIFAR's sin/cos order and shift.</summary>
    public static UNet2DConfig ClassConditional() => new()
    {
        SampleSize = 8,
        InChannels = 3,
        OutChannels = 3,
        BlockOutChannels = [16, 32],
        DownBlockTypes = ["DownBlock2D", "AttnDownBlock2D"],
        UpBlockTypes = ["AttnUpBlock2D", "UpBlock2D"],
        LayersPerBlock = 1,
        NormNumGroups = 8,
        AttentionHeadDim = 8,
        NumClassEmbeds = 5,
        FlipSinToCos = false,
        FreqShift = 1,
        MidBlockScaleFactor = 1.5,
    };

    /// <summary>Scale-shift time conditioning, a timestep-style class embedding, one attention head, padding-0 downsampling, centred input.</summary>
    public static UNet2DConfig ScaleShift() => new()
    {
        SampleSize = 8,
        InChannels = 1,
        OutChannels = 1,
        BlockOutChannels = [16, 32],
        DownBlockTypes = ["AttnDownBlock2D", "DownBlock2D"],
        UpBlockTypes = ["UpBlock2D", "AttnUpBlock2D"],
        LayersPerBlock = 2,
        NormNumGroups = 4,
        AttentionHeadDim = null,
        ClassEmbedType = "timestep",
        ResnetTimeScaleShift = "scale_shift",
        DownsamplePadding = 0,
        CenterInputSample = true,
        NormEps = 1e-6,
    };

    /// <summary>An unconditional model.</summary>
    public static UNet2DConfig Unconditional() => ClassConditional() with { NumClassEmbeds = null };

    /// <summary>Writes float32/int64 tensors as a safetensors file.</summary>
    public static void WriteTensors(string path, params (string Name, Tensor Value)[] tensors) =>
        SafeTensorsWriter.Write(path, tensors.Select(t =>
        {
            using var cpu = t.Value.detach().cpu().contiguous();
            byte[] bytes = cpu.bytes.ToArray();
            return (t.Name, cpu.dtype == ScalarType.Int64 ? SafeTensorDType.I64 : SafeTensorDType.F32, cpu.shape, (ReadOnlyMemory<byte>)bytes);
        }));

    /// <summary>Randomizes the norm weights and biases (1-D parameters), which start at 1 and 0, so that mistakes in them show.</summary>
    public static void RandomizeNorms(nn.Module model)
    {
        using var noGrad = no_grad();
        foreach (var (name, p) in model.named_parameters())
            if (p.dim() == 1) p.uniform_(name.EndsWith("bias", StringComparison.Ordinal) ? -0.5 : 0.5, name.EndsWith("bias", StringComparison.Ordinal) ? 0.5 : 1.5);
    }

    /// <summary>Max |a - b|.</summary>
    public static double MaxAbs(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        Assert.Equal(a.Length, b.Length);
        double worst = 0;
        for (int i = 0; i < a.Length; i++) worst = Math.Max(worst, double.IsNaN(a[i] - b[i]) ? double.PositiveInfinity : Math.Abs(a[i] - b[i]));
        return worst;
    }

    /// <summary>A tensor's values as floats.</summary>
    public static float[] Floats(Tensor t)
    {
        using var c = t.detach().cpu().to_type(ScalarType.Float32).contiguous();
        return c.data<float>().ToArray();
    }
}
