using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Tessera.Export.Emitters;

/// <summary>Containers: Sequential (folding each eval-mode BatchNorm into the convolution right before it).</summary>
internal static class ContainerEmitters
{
    public static string Sequential(OnnxExportContext ctx, Sequential m, string x)
    {
        var children = m.named_children().ToList();
        for (int i = 0; i < children.Count; i++)
        {
            var (name, child) = children[i];
            if (i + 1 < children.Count && CanFold(child, children[i + 1].module))
            {
                x = FoldedConv(ctx, name, (Convolution)child, (BatchNorm)children[i + 1].module, x);
                i++;
                continue;
            }
            x = ctx.EmitModule(child, x, name);
        }
        return x;
    }

    /// <summary>True when <paramref name="conv"/> is a plain convolution and <paramref name="next"/> an eval-mode BatchNorm with running statistics over its output channels.</summary>
    public static bool CanFold(nn.Module conv, nn.Module next) =>
        conv is Convolution { transposed: false } c && conv is not IOnnxEmitter && next is not IOnnxEmitter &&
        next is BatchNorm { training: false, track_running_stats: true } bn && bn.running_mean is not null &&
        bn.num_features == c.out_channels && (conv is Conv1d || conv is Conv2d);

    /// <summary>Emits conv then BN as one Conv (in the conv's scope) and records the output's sample shape.</summary>
    public static string FoldedConv(OnnxExportContext ctx, string convName, Convolution conv, BatchNorm bn, string x)
    {
        string y;
        using (ctx.Scope(convName)) y = LayerEmitters.Conv(ctx, conv, x, bn);
        ctx.RecordShape(x, y, t => bn.call(conv.call(t)));
        return y;
    }
}
