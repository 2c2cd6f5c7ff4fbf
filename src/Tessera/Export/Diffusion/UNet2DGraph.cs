using System.Globalization;
using Tessera.Diffusion;
using Tessera.Formats.Onnx;
using static Tessera.Export.OnnxGraphBuilder;
using static TorchSharp.torch;
using DataType = Tessera.Formats.Onnx.TensorProto.Types.DataType;

namespace Tessera.Export.Diffusion;

/// <summary>
/// Writes a <see cref="UNet2DModel"/> as an ONNX graph with standard operators: inputs <c>sample</c> [batch, C, H, W]
/// float32, <c>timestep</c> [batch] float32 and, for class-conditional models, <c>class_labels</c> [batch] int64;
/// output <c>out_sample</c> with the sample's shape. GroupNorm is written as InstanceNormalization over
/// [batch, groups, rest] plus the affine parameters, attention as MatMul/Softmax, upsampling as nearest Resize.
/// </summary>
internal sealed class UNet2DGraph
{
    public const string SampleInput = "sample";
    public const string TimestepInput = "timestep";
    public const string ClassLabelsInput = "class_labels";
    public const string Output = "out_sample";

    readonly TransformerGraph g;
    readonly UNet2DConfig config;
    OnnxGraphBuilder B => g.Builder;

    UNet2DGraph(UNet2DModel model, int opset)
    {
        g = new TransformerGraph(model, opset);
        config = model.Config;
    }

    public static ModelProto Build(UNet2DModel model, IReadOnlyDictionary<string, string> metadata, int opset)
    {
        var graph = new UNet2DGraph(model, opset);
        graph.BuildGraph();
        return graph.B.Build(metadata, "diffusers UNet2DModel exported by Tessera");
    }

    void BuildGraph()
    {
        var c = config;
        if (c.ClassEmbedType == "identity") throw new OnnxExportException("class_embed_type \"identity\" has no ONNX export here");
        string sample = B.AddInput(SampleInput, DataType.Float, "batch", c.InChannels, "height", "width");
        string timestep = B.AddInput(TimestepInput, DataType.Float, "batch");
        string? labels = c.IsClassConditional ? B.AddInput(ClassLabelsInput, DataType.Int64, "batch") : null;

        string x = sample;
        if (c.CenterInputSample) x = B.Apply("Sub", [B.Apply("Mul", [x, g.Float("center/two", 2f)], "center/mul"), g.Float("center/one", 1f)], "center");
        int width = c.BlockOutChannels[0];
        string emb = TimestepEmbedding("time_embedding", Projection(timestep, width, "time_proj"));
        if (labels is not null)
        {
            string classEmb = c.ClassEmbedType == "timestep"
                ? TimestepEmbedding("class_embedding", Projection(B.Apply("Cast", [labels], "class_labels_float", Attr("to", (long)DataType.Float)), width, "class_proj"))
                : B.Apply("Gather", [g.Weight("class_embedding.weight"), labels], "class_embedding", Attr("axis", 0L));
            emb = B.Apply("Add", [emb, classEmb], "emb");
        }

        x = Conv("conv_in", x, 1, 1);
        var states = new List<string> { x };
        for (int i = 0; i < c.BlockOutChannels.Count; i++)
        {
            string p = $"down_blocks.{i}";
            bool attention = c.DownBlockTypes[i] == "AttnDownBlock2D";
            for (int j = 0; j < c.LayersPerBlock; j++)
            {
                x = Resnet($"{p}.resnets.{j}", x, emb, 1.0);
                if (attention) x = Attention($"{p}.attentions.{j}", x, c.BlockOutChannels[i], c.NormNumGroups, 1.0);
                states.Add(x);
            }
            if (i < c.BlockOutChannels.Count - 1)
            {
                if (c.DownsamplePadding == 0)
                    x = B.Apply("Pad", [x, g.Longs($"{p}/pads", false, 0, 0, 0, 0, 0, 0, 1, 1)], $"{p}/pad");
                x = Conv($"{p}.downsamplers.0.conv", x, 2, c.DownsamplePadding);
                states.Add(x);
            }
        }

        double midScale = c.MidBlockScaleFactor;
        x = Resnet("mid_block.resnets.0", x, emb, midScale);
        if (c.AddAttention) x = Attention("mid_block.attentions.0", x, c.BlockOutChannels[^1], c.AttnNormNumGroups ?? c.NormNumGroups, midScale);
        x = Resnet("mid_block.resnets.1", x, emb, midScale);

        var reversed = c.BlockOutChannels.Reverse().ToArray();
        for (int i = 0; i < reversed.Length; i++)
        {
            string p = $"up_blocks.{i}";
            bool attention = c.UpBlockTypes[i] == "AttnUpBlock2D";
            for (int j = 0; j < c.LayersPerBlock + 1; j++)
            {
                string skip = states[^1];
                states.RemoveAt(states.Count - 1);
                x = B.Apply("Concat", [x, skip], $"{p}.resnets.{j}/cat", Attr("axis", 1L));
                x = Resnet($"{p}.resnets.{j}", x, emb, 1.0);
                if (attention) x = Attention($"{p}.attentions.{j}", x, reversed[i], c.NormNumGroups, 1.0);
            }
            if (i < reversed.Length - 1)
            {
                string scales = B.AddInitializer($"{p}/scales", [1f, 1f, 2f, 2f], 4);
                x = B.Apply("Resize", [x, "", scales], $"{p}/upsample", Attr("mode", "nearest"),
                    Attr("coordinate_transformation_mode", "asymmetric"), Attr("nearest_mode", "floor"));
                x = Conv($"{p}.upsamplers.0.conv", x, 1, 1);
            }
        }
        x = Silu(GroupNorm("conv_norm_out", x, c.NormNumGroups, c.NormEps), "conv_act");
        x = Conv("conv_out", x, 1, 1);
        B.Rename(x, Output);
        B.AddOutput(Output, DataType.Float, "batch", c.OutChannels, "height", "width");
    }

    /// <summary>The sinusoidal projection [batch] → [batch, dim]; the frequencies are computed by TorchSharp as the model does.</summary>
    string Projection(string t, int dim, string name)
    {
        if (dim % 2 == 1) throw new OnnxExportException($"{name}: odd embedding widths ({dim}) have no ONNX export here");
        using var scope = NewDisposeScope();
        long half = dim / 2;
        // The frequencies computed exactly as UNet2DModel.TimestepProjection does, so the graph multiplies by the same float32 values.
        Tensor exponent = (arange(0, half, dtype: ScalarType.Float32) * (float)(-Math.Log(10000.0)) / (float)(half - config.FreqShift)).exp().unsqueeze(0);
        string f = B.AddInitializer(name + "/freqs", exponent);
        string col = B.Apply("Unsqueeze", [t, g.Longs(name + "/axis", false, 1)], name + "/t");
        string args = B.Apply("Mul", [col, f], name + "/args");
        string sin = B.Apply("Sin", [args], name + "/sin"), cos = B.Apply("Cos", [args], name + "/cos");
        return B.Apply("Concat", config.FlipSinToCos ? [cos, sin] : [sin, cos], name, Attr("axis", -1L));
    }

    string TimestepEmbedding(string prefix, string x)
    {
        string h = g.Linear(x, g.Weight(prefix + ".linear_1.weight", transpose: true), g.Weight(prefix + ".linear_1.bias"), prefix + ".linear_1");
        h = Silu(h, prefix + "/act");
        return g.Linear(h, g.Weight(prefix + ".linear_2.weight", transpose: true), g.Weight(prefix + ".linear_2.bias"), prefix + ".linear_2");
    }

    string Conv(string prefix, string x, long stride, long pad)
    {
        long k = g.ShapeOf(prefix + ".weight")[^1];
        return B.Apply("Conv", [x, g.Weight(prefix + ".weight"), g.Weight(prefix + ".bias")], prefix,
            Attr("kernel_shape", new[] { k, k }), Attr("strides", new[] { stride, stride }), Attr("pads", new[] { pad, pad, pad, pad }));
    }

    string Silu(string x, string name) => g.Activation("silu", x, name);

    string Act(string x, string name) => config.ActFn == "mish"
        ? B.Apply("Mul", [x, B.Apply("Tanh", [B.Apply("Softplus", [x], name + "/softplus")], name + "/tanh")], name + "/mish")
        : g.Activation(config.ActFn, x, name);

    /// <summary>GroupNorm: InstanceNormalization over [batch, groups, -1] (unit scale, zero bias), back to the input's shape, then the per-channel affine.</summary>
    string GroupNorm(string prefix, string x, int groups, double eps)
    {
        string grouped = B.Apply("Reshape", [x, g.Longs(prefix + "/group_shape", false, 0, groups, -1)], prefix + "/grouped");
        string unitScale = B.AddInitializer(prefix + "/unit_scale", Enumerable.Repeat(1f, groups).ToArray(), groups);
        string zeroBias = B.AddInitializer(prefix + "/zero_bias", new float[groups], groups);
        string norm = B.Apply("InstanceNormalization", [grouped, unitScale, zeroBias], prefix + "/instance_norm", Attr("epsilon", (float)eps));
        string back = B.Apply("Reshape", [norm, B.Apply("Shape", [x], prefix + "/shape")], prefix + "/ungrouped");
        string w = B.Apply("Unsqueeze", [g.Weight(prefix + ".weight"), g.Longs(prefix + "/axes", false, 1, 2)], prefix + "/gamma");
        string b = B.Apply("Unsqueeze", [g.Weight(prefix + ".bias"), g.Longs(prefix + "/axes_b", false, 1, 2)], prefix + "/beta");
        return B.Apply("Add", [B.Apply("Mul", [back, w], prefix + "/mul"), b], prefix + "/out");
    }

    string Resnet(string p, string input, string emb, double outputScale)
    {
        var c = config;
        string h = Conv(p + ".conv1", Act(GroupNorm(p + ".norm1", input, c.NormNumGroups, c.NormEps), p + "/act1"), 1, 1);
        string t = g.Linear(Act(emb, p + "/temb_act"), g.Weight(p + ".time_emb_proj.weight", transpose: true), g.Weight(p + ".time_emb_proj.bias"), p + ".time_emb_proj");
        t = B.Apply("Unsqueeze", [t, g.Longs(p + "/temb_axes", false, 2, 3)], p + "/temb");
        if (c.ResnetTimeScaleShift == "scale_shift")
        {
            string scale = B.UniqueName(p + "/scale"), shift = B.UniqueName(p + "/shift");
            long half = g.ShapeOf(p + ".time_emb_proj.weight")[0] / 2;
            B.AddNode("Split", [t, g.Longs(p + "/split_sizes", false, half, half)], [scale, shift], Attr("axis", 1L));
            h = GroupNorm(p + ".norm2", h, c.NormNumGroups, c.NormEps);
            h = B.Apply("Add", [B.Apply("Mul", [h, B.Apply("Add", [scale, g.Float(p + "/one", 1f)], p + "/one_plus")], p + "/scaled"), shift], p + "/shifted");
        }
        else
        {
            h = GroupNorm(p + ".norm2", B.Apply("Add", [h, t], p + "/plus_temb"), c.NormNumGroups, c.NormEps);
        }
        h = Conv(p + ".conv2", Act(h, p + "/act2"), 1, 1);
        string shortcut = g.HasWeight(p + ".conv_shortcut.weight") ? Conv(p + ".conv_shortcut", input, 1, 0) : input;
        string y = B.Apply("Add", [shortcut, h], p + "/out");
        return outputScale == 1.0 ? y : B.Apply("Div", [y, g.Float(p + "/output_scale", (float)outputScale)], p + "/scaled_out");
    }

    string Attention(string p, string input, int channels, int groups, double rescale)
    {
        int heads = UNet2DModel.HeadsFor(config, channels);
        int headDim = channels / heads;
        string x = GroupNorm(p + ".group_norm", input, groups, config.NormEps);
        x = B.Apply("Reshape", [x, g.Longs(p + "/flat_shape", false, 0, channels, -1)], p + "/flat");
        x = B.Apply("Transpose", [x], p + "/tokens", Attr("perm", new long[] { 0, 2, 1 }));
        string Proj(string name) => g.Linear(x, g.Weight($"{p}.{name}.weight", transpose: true), g.Weight($"{p}.{name}.bias"), $"{p}.{name}");
        string q = g.SplitHeads(Proj("to_q"), heads, headDim, p + "/q");
        string k = g.SplitHeads(Proj("to_k"), heads, headDim, p + "/k");
        string v = g.SplitHeads(Proj("to_v"), heads, headDim, p + "/v");
        string y = g.ScaledDotProductAttention(q, k, v, null, heads, headDim, 1.0 / Math.Sqrt(headDim), p + "/attn");
        y = g.Linear(y, g.Weight(p + ".to_out.0.weight", transpose: true), g.Weight(p + ".to_out.0.bias"), p + ".to_out.0");
        y = B.Apply("Transpose", [y], p + "/channels_first", Attr("perm", new long[] { 0, 2, 1 }));
        y = B.Apply("Reshape", [y, B.Apply("Shape", [input], p + "/shape")], p + "/image");
        y = B.Apply("Add", [y, input], p + "/residual");
        return rescale == 1.0 ? y : B.Apply("Div", [y, g.Float(p + "/rescale", (float)rescale)], p + "/rescaled");
    }
}
