using TorchSharp.Modules;
using static Tessera.Export.OnnxGraphBuilder;

namespace Tessera.Export.Emitters;

/// <summary>Shape operations: Flatten.</summary>
internal static class ShapeEmitters
{
    /// <summary>
    /// torch.flatten(start_dim, end_dim): ONNX Flatten(axis=1) for the common 2-D case, else a Reshape that copies
    /// the leading dimensions (0), merges the flattened ones (-1) and keeps the trailing ones at their sample sizes.
    /// </summary>
    public static string Flatten(OnnxExportContext ctx, Flatten m, string x) => Flatten(ctx, x, m.start_dim, m.end_dim);

    public static string Flatten(OnnxExportContext ctx, string x, long startDim, long endDim)
    {
        var shape = ctx.ShapeOf(x);
        if (shape is null)
        {
            if (startDim == 1 && endDim == -1) return ctx.Graph.Apply("Flatten", [x], ctx.Qualify("flatten"), Attr("axis", 1L));
            throw ctx.Error($"Flatten({startDim}, {endDim}) needs the input's rank, which is not known here");
        }
        int rank = shape.Length;
        long start = startDim < 0 ? startDim + rank : startDim;
        long end = endDim < 0 ? endDim + rank : endDim;
        string y;
        if (start == 1 && end == rank - 1)
        {
            y = ctx.Graph.Apply("Flatten", [x], ctx.Qualify("flatten"), Attr("axis", 1L));
        }
        else
        {
            var target = new List<long>();
            for (long i = 0; i < start; i++) target.Add(0);
            target.Add(-1);
            for (long i = end + 1; i < rank; i++) target.Add(shape[i]);
            string s = ctx.AddInitializer("shape", target.ToArray(), target.Count);
            y = ctx.Graph.Apply("Reshape", [x, s], ctx.Qualify("reshape"));
        }
        var outShape = shape.Take((int)start).Append(shape.Skip((int)start).Take((int)(end - start + 1)).Aggregate(1L, (a, b) => a * b)).Concat(shape.Skip((int)end + 1)).ToArray();
        ctx.SetShape(y, outShape);
        return y;
    }
}
