using TorchSharp.Modules;
using static Tessera.Export.OnnxGraphBuilder;

namespace Tessera.Export.Emitters;

/// <summary>Pooling: MaxPool2d, AvgPool2d, AdaptiveAvgPool2d.</summary>
internal static class PoolEmitters
{
    public static string MaxPool2d(OnnxExportContext ctx, MaxPool2d m, string x)
    {
        long[] kernel = LayerEmitters.Expand(m.kernel_size, 2, 1);
        long[] pads = LayerEmitters.Expand(m.padding, 2, 0);
        return ctx.Graph.Apply("MaxPool", [x], ctx.Qualify("maxpool"),
            Attr("ceil_mode", m.ceil_mode ? 1L : 0L), Attr("dilations", LayerEmitters.Expand(m.dilation, 2, 1)),
            Attr("kernel_shape", kernel), Attr("pads", pads.Concat(pads)), Attr("strides", LayerEmitters.Expand(m.stride, 2, 0) is var s && s.All(v => v > 0) ? s : kernel));
    }

    public static string AvgPool2d(OnnxExportContext ctx, AvgPool2d m, string x)
    {
        if (m.divisor_override is not null) throw ctx.Error("AvgPool2d with divisor_override has no ONNX equivalent");
        long[] kernel = LayerEmitters.Expand(m.kernel_size, 2, 1);
        long[] pads = LayerEmitters.Expand(m.padding, 2, 0);
        return ctx.Graph.Apply("AveragePool", [x], ctx.Qualify("avgpool"),
            Attr("ceil_mode", m.ceil_mode ? 1L : 0L), Attr("count_include_pad", m.count_include_pad ? 1L : 0L),
            Attr("kernel_shape", kernel), Attr("pads", pads.Concat(pads)), Attr("strides", LayerEmitters.Expand(m.stride, 2, 0) is var s && s.All(v => v > 0) ? s : kernel));
    }

    /// <summary>GlobalAveragePool for a 1x1 output; an AveragePool with kernel = stride = input/output when the sizes divide.</summary>
    public static string AdaptiveAvgPool2d(OnnxExportContext ctx, AdaptiveAvgPool2d m, string x)
    {
        long[] output = LayerEmitters.Expand(m.output_size, 2, 1);
        if (output[0] == 1 && output[1] == 1) return ctx.Graph.Apply("GlobalAveragePool", [x], ctx.Qualify("global_avgpool"));
        var shape = ctx.ShapeOf(x);
        if (shape is null || shape.Length != 4)
            throw ctx.Error($"AdaptiveAvgPool2d to {output[0]}x{output[1]} needs the input's spatial size, which is not known here");
        long h = shape[2], w = shape[3];
        if (h % output[0] != 0 || w % output[1] != 0)
            throw ctx.Error($"AdaptiveAvgPool2d from {h}x{w} to {output[0]}x{output[1]}: ONNX export supports a 1x1 output or sizes that divide the input");
        long[] kernel = [h / output[0], w / output[1]];
        return ctx.Graph.Apply("AveragePool", [x], ctx.Qualify("avgpool"), Attr("kernel_shape", kernel), Attr("strides", kernel));
    }
}
