using System.Globalization;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Tessera.Export.Emitters;

/// <summary>Tessera's own models, written to match their forward methods (which use functional ops, not modules).</summary>
internal static class ModelEmitters
{
    /// <summary>conv1 → ReLU → pool → conv2 → ReLU → pool → flatten → fc1 → ReLU → fc2.</summary>
    public static string Cnn(OnnxExportContext ctx, Models.Cnn m, string x)
    {
        var pool = ctx.Child(m, "pool");
        x = ctx.EmitModule(pool, ctx.Unary("Relu", ctx.EmitModule(ctx.Child(m, "conv1"), x, "conv1")), "pool");
        x = ctx.EmitModule(pool, ctx.Unary("Relu", ctx.EmitModule(ctx.Child(m, "conv2"), x, "conv2")), "pool");
        x = ShapeEmitters.Flatten(ctx, x, 1, -1);
        x = ctx.Unary("Relu", ctx.EmitModule(ctx.Child(m, "fc1"), x, "fc1"));
        return ctx.EmitModule(ctx.Child(m, "fc2"), x, "fc2");
    }

    /// <summary>flatten → (Linear → ReLU) per hidden layer → Linear; dropout is the identity in eval.</summary>
    public static string Mlp(OnnxExportContext ctx, Models.Mlp m, string x)
    {
        var layers = (ModuleList<Linear>)ctx.Child(m, "layers");
        x = ShapeEmitters.Flatten(ctx, x, 1, -1);
        using var _ = ctx.Scope("layers");
        for (int i = 0; i < layers.Count; i++)
        {
            x = ctx.EmitModule(layers[i], x, i.ToString(CultureInfo.InvariantCulture));
            if (i < layers.Count - 1) x = ctx.Unary("Relu", x);
        }
        return x;
    }

    /// <summary>Stem (conv1+bn1 folded, ReLU), residual stages, global average pool, flatten, fc.</summary>
    public static string ResNet(OnnxExportContext ctx, Models.ResNet m, string x)
    {
        x = ctx.Unary("Relu", FoldedPair(ctx, m, "conv1", "bn1", x));
        var stages = (ModuleList<Sequential>)ctx.Child(m, "layers");
        using (ctx.Scope("layers"))
        {
            for (int s = 0; s < stages.Count; s++)
            {
                using var stage = ctx.Scope(s.ToString(CultureInfo.InvariantCulture));
                foreach (var (name, block) in stages[s].named_children())
                {
                    using var blockScope = ctx.Scope(name);
                    x = BasicBlock(ctx, block, x);
                }
            }
        }
        x = ctx.EmitModule(ctx.Child(m, "pool"), x, "pool");
        x = ShapeEmitters.Flatten(ctx, x, 1, -1);
        return ctx.EmitModule(ctx.Child(m, "fc"), x, "fc");
    }

    /// <summary>relu(bn2(conv2(relu(bn1(conv1(x))))) + shortcut(x)), with each BN folded into its conv.</summary>
    static string BasicBlock(OnnxExportContext ctx, nn.Module block, string x)
    {
        string y = ctx.Unary("Relu", FoldedPair(ctx, block, "conv1", "bn1", x));
        y = FoldedPair(ctx, block, "conv2", "bn2", y);
        var downsample = OnnxExportContext.OptionalChild(block, "downsample");
        string shortcut = downsample is null ? x : ctx.EmitModule(downsample, x, "downsample");
        return ctx.Unary("Relu", ctx.Binary("Add", y, shortcut));
    }

    static string FoldedPair(OnnxExportContext ctx, nn.Module parent, string convName, string bnName, string x)
    {
        var conv = ctx.Child(parent, convName);
        var bn = ctx.Child(parent, bnName);
        if (!ContainerEmitters.CanFold(conv, bn))
            return ctx.EmitModule(bn, ctx.EmitModule(conv, x, convName), bnName);
        return ContainerEmitters.FoldedConv(ctx, convName, (Convolution)conv, (BatchNorm)bn, x);
    }
}
