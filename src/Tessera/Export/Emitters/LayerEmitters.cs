using TorchSharp;
using TorchSharp.Modules;
using static Tessera.Export.OnnxGraphBuilder;
using static TorchSharp.torch;

namespace Tessera.Export.Emitters;

/// <summary>Emitters for the layers with weights: Linear, Conv1d/2d (optionally with a BatchNorm folded in), BatchNorm, LayerNorm, Embedding.</summary>
internal static class LayerEmitters
{
    /// <summary><c>y = x Wᵀ + b</c>: one Gemm (transB=1) for 2-D inputs, MatMul with the transposed weight plus Add otherwise.</summary>
    public static string Linear(OnnxExportContext ctx, Linear m, string x) => Linear(ctx, m.weight!, m.bias, x);

    /// <summary>The same for Tessera's <see cref="Transformers.FastLinear"/> (nn.Linear's parameters).</summary>
    public static string Linear(OnnxExportContext ctx, Transformers.FastLinear m, string x) => Linear(ctx, m.Weight, m.Bias, x);

    static string Linear(OnnxExportContext ctx, Tensor weight, Tensor? bias, string x)
    {
        var rank = ctx.ShapeOf(x)?.Length;
        if (rank == 2)
        {
            string w = ctx.AddInitializer("weight", weight);
            string[] inputs = bias is null ? [x, w] : [x, w, ctx.AddInitializer("bias", bias)];
            return ctx.Graph.Apply("Gemm", inputs, ctx.Qualify("gemm"), Attr("transB", 1L));
        }
        using var scope = NewDisposeScope();
        string wt = ctx.AddInitializer("weight_transposed", weight.detach().t());
        string y = ctx.Graph.Apply("MatMul", [x, wt], ctx.Qualify("matmul"));
        return bias is null ? y : ctx.Graph.Apply("Add", [y, ctx.AddInitializer("bias", bias)], ctx.Qualify("add"));
    }

    /// <summary>A Conv1d/Conv2d as an ONNX Conv.</summary>
    public static string Convolution(OnnxExportContext ctx, Convolution m, string x) => Conv(ctx, m, x, null);

    /// <summary>
    /// An ONNX Conv for <paramref name="conv"/>; when <paramref name="foldedNorm"/> is given, its eval-mode affine map
    /// is folded into the weights: <c>W' = W·γ/√(var+ε)</c> per output channel, <c>b' = (b − mean)·γ/√(var+ε) + β</c>
    /// (computed in float64, stored in the weight's type).
    /// </summary>
    public static string Conv(OnnxExportContext ctx, Convolution conv, string x, BatchNorm? foldedNorm)
    {
        if (conv.transposed) throw ctx.Error($"{conv.GetType().Name}: transposed convolutions have no ONNX emitter yet");
        if (conv.padding_mode != PaddingModes.Zeros)
            throw ctx.Error($"{conv.GetType().Name}: padding_mode {conv.padding_mode} is not supported (only zeros)");
        using var scope = NewDisposeScope();
        var weight = conv.weight!.detach();
        long[] kernel = weight.shape[2..];
        int n = kernel.Length;
        long[] stride = Expand(conv.stride, n, 1);
        long[] dilation = Expand(conv.dilation, n, 1);
        long[] begin = new long[n], end = new long[n];
        if (conv.padding_type == Padding.Same)
        {
            for (int i = 0; i < n; i++)
            {
                long total = dilation[i] * (kernel[i] - 1);
                begin[i] = total / 2;
                end[i] = total - begin[i];
            }
        }
        else if (conv.padding_type != Padding.Valid)
        {
            begin = Expand(conv.padding, n, 0);
            end = (long[])begin.Clone();
        }

        Tensor? bias = conv.bias?.detach();
        string suffix = "";
        if (foldedNorm is not null)
        {
            var (scale, shift) = NormAffine(ctx, foldedNorm);
            var shape = new long[weight.dim()];
            Array.Fill(shape, 1L);
            shape[0] = -1;
            var w64 = weight.to_type(ScalarType.Float64) * scale.view(shape);
            var b64 = (bias is null ? zeros_like(scale) : bias.to_type(ScalarType.Float64)) * scale + shift;
            weight = w64.to_type(weight.dtype);
            bias = b64.to_type(weight.dtype);
            suffix = "_bn_folded";
        }
        string w = ctx.AddInitializer("weight" + suffix, weight);
        string[] inputs = bias is null ? [x, w] : [x, w, ctx.AddInitializer("bias" + suffix, bias)];
        return ctx.Graph.Apply("Conv", inputs, ctx.Qualify("conv"),
            Attr("dilations", dilation), Attr("group", conv.groups), Attr("kernel_shape", kernel),
            Attr("pads", begin.Concat(end)), Attr("strides", stride));
    }

    /// <summary>Eval-mode BatchNorm as ONNX BatchNormalization with the running statistics.</summary>
    public static string BatchNorm(OnnxExportContext ctx, BatchNorm m, string x)
    {
        RequireRunningStats(ctx, m);
        using var scope = NewDisposeScope();
        string scale = ctx.AddInitializer("weight", m.weight?.detach() ?? ones(m.num_features));
        string b = ctx.AddInitializer("bias", m.bias?.detach() ?? zeros(m.num_features));
        string mean = ctx.AddInitializer("running_mean", m.running_mean!);
        string var = ctx.AddInitializer("running_var", m.running_var!);
        string y = ctx.Graph.Apply("BatchNormalization", [x, scale, b, mean, var], ctx.Qualify("batchnorm"), Attr("epsilon", (float)m.eps));
        if (ctx.ShapeOf(x) is { } s) ctx.SetShape(y, s);
        return y;
    }

    /// <summary>LayerNorm over the last <c>normalized_shape.Length</c> axes as opset-17 LayerNormalization.</summary>
    public static string LayerNorm(OnnxExportContext ctx, LayerNorm m, string x)
    {
        using var scope = NewDisposeScope();
        string scale = ctx.AddInitializer("weight", m.weight?.detach() ?? ones(m.normalized_shape));
        string b = ctx.AddInitializer("bias", m.bias?.detach() ?? zeros(m.normalized_shape));
        string y = ctx.Graph.Apply("LayerNormalization", [x, scale, b], ctx.Qualify("layernorm"),
            Attr("axis", (long)-m.normalized_shape.Length), Attr("epsilon", (float)m.eps));
        if (ctx.ShapeOf(x) is { } s) ctx.SetShape(y, s);
        return y;
    }

    /// <summary>Embedding lookup as Gather on axis 0 of the weight.</summary>
    public static string Embedding(OnnxExportContext ctx, Embedding m, string x)
    {
        string w = ctx.AddInitializer("weight", m.weight!);
        return ctx.Graph.Apply("Gather", [w, x], ctx.Qualify("gather"), Attr("axis", 0L));
    }

    /// <summary>The per-channel affine map of an eval-mode BatchNorm, in float64: y = x·scale + shift.</summary>
    static (Tensor Scale, Tensor Shift) NormAffine(OnnxExportContext ctx, BatchNorm bn)
    {
        RequireRunningStats(ctx, bn);
        var mean = bn.running_mean!.detach().to_type(ScalarType.Float64);
        var variance = bn.running_var!.detach().to_type(ScalarType.Float64);
        var gamma = bn.weight?.detach().to_type(ScalarType.Float64) ?? ones_like(mean);
        var beta = bn.bias?.detach().to_type(ScalarType.Float64) ?? zeros_like(mean);
        var scale = gamma / (variance + bn.eps).sqrt();
        return (scale, beta - mean * scale);
    }

    static void RequireRunningStats(OnnxExportContext ctx, BatchNorm m)
    {
        if (!m.track_running_stats || m.running_mean is null || m.running_var is null)
            throw ctx.Error($"{m.GetType().Name} has no running statistics (track_running_stats=false), so eval uses batch statistics, which ONNX export does not support");
    }

    internal static long[] Expand(long[]? values, int n, long fallback)
    {
        if (values is null || values.Length == 0) return Enumerable.Repeat(fallback, n).ToArray();
        if (values.Length == 1 && n > 1) return Enumerable.Repeat(values[0], n).ToArray();
        return values;
    }
}
