using Tessera.Transformers;
using static Tessera.Export.OnnxGraphBuilder;

namespace Tessera.Export.Decoders;

/// <summary>
/// Writes <see cref="Gpt2LMHeadModel"/> as an ONNX decoder with past key/values: token + position embeddings
/// (positions from <c>position_ids</c>), pre-norm blocks with a fused q/k/v <c>Conv1D</c> split into heads, attention
/// over past + new keys, the MLP, <c>ln_f</c> and the head tied to <c>wte</c>.
/// </summary>
internal static class Gpt2DecoderGraph
{
    public static Formats.Onnx.ModelProto Build(Gpt2LMHeadModel model, IReadOnlyDictionary<string, string> metadata, int opset, bool fusedAttention = false)
    {
        Gpt2Config c = model.Config;
        var g = new DecoderGraph(model, opset, c.NLayer, c.NHead, c.HeadDim);
        OnnxGraphBuilder b = g.Builder;
        const string p = "transformer";
        float eps = (float)c.LayerNormEpsilon;

        string tokens = b.Apply("Gather", [g.Weight($"{p}.wte.weight"), g.InputIds], "embed/tokens", Attr("axis", 0L));
        string positions = b.Apply("Gather", [g.Weight($"{p}.wpe.weight"), g.PositionIds], "embed/positions", Attr("axis", 0L));
        string x = b.Apply("Add", [tokens, positions], "embed/sum");
        string splits = g.Longs("attn/splits", false, c.NEmbd, c.NEmbd, c.NEmbd);
        // With fused attention (an ONNX-Runtime-only graph anyway) each residual add and the layer norm after it become
        // one com.microsoft.SkipLayerNormalization, whose fourth output is the sum the next residual needs.
        string h = LayerNorm(g, x, $"{p}.h.0.ln_1", eps);
        for (int i = 0; i < c.NLayer; i++)
        {
            string l = $"{p}.h.{i}";
            if (!fusedAttention && i > 0) h = LayerNorm(g, x, $"{l}.ln_1", eps);
            string qkv = g.Linear(h, g.Weight($"{l}.attn.c_attn.weight"), g.Weight($"{l}.attn.c_attn.bias"), $"{l}/c_attn");
            string q = $"{l}/q_split", k = $"{l}/k_split", v = $"{l}/v_split";
            b.AddNode("Split", [qkv, splits], [q, k, v], Attr("axis", 2L));
            double scale = (c.ScaleAttnWeights ? 1.0 / Math.Sqrt(c.HeadDim) : 1.0) / (c.ScaleAttnByInverseLayerIdx ? i + 1 : 1);
            string attn = fusedAttention
                ? g.FusedAttention(i, q, k, v, c.NHead, scale, $"{l}/attn")
                : g.Attention(i, g.SplitHeads(q, c.NHead, c.HeadDim, $"{l}/q"), g.SplitHeads(k, c.NHead, c.HeadDim, $"{l}/k"), g.SplitHeads(v, c.NHead, c.HeadDim, $"{l}/v"), c.NHead, scale, $"{l}/attn");
            attn = g.Linear(attn, g.Weight($"{l}.attn.c_proj.weight"), g.Weight($"{l}.attn.c_proj.bias"), $"{l}/attn_proj");
            if (fusedAttention) (h, x) = SkipLayerNorm(g, x, attn, $"{l}.ln_2", eps, $"{l}/residual1");
            else
            {
                x = b.Apply("Add", [x, attn], $"{l}/residual1");
                h = LayerNorm(g, x, $"{l}.ln_2", eps);
            }
            h = g.Linear(h, g.Weight($"{l}.mlp.c_fc.weight"), g.Weight($"{l}.mlp.c_fc.bias"), $"{l}/c_fc");
            h = g.Activation(c.ActivationFunction, h, $"{l}/act");
            h = g.Linear(h, g.Weight($"{l}.mlp.c_proj.weight"), g.Weight($"{l}.mlp.c_proj.bias"), $"{l}/mlp_proj");
            if (fusedAttention) (h, x) = SkipLayerNorm(g, x, h, i + 1 < c.NLayer ? $"{p}.h.{i + 1}.ln_1" : $"{p}.ln_f", eps, $"{l}/residual2");
            else x = b.Apply("Add", [x, h], $"{l}/residual2");
        }
        if (!fusedAttention) h = LayerNorm(g, x, $"{p}.ln_f", eps);
        x = h;
        string logits = g.TiedProjection(x, g.Weight($"{p}.wte.weight"), c.NEmbd, c.VocabSize, "lm_head");
        return g.Finish(logits, c.VocabSize, metadata);
    }

    /// <summary>LayerNorm(x + skip) with the norm <paramref name="prefix"/>; returns the normalized value and the sum.</summary>
    static (string Normalized, string Sum) SkipLayerNorm(DecoderGraph g, string x, string skip, string prefix, float eps, string name)
    {
        string normalized = name + "/normalized", sum = name + "/sum";
        var node = g.Builder.AddNode("SkipLayerNormalization", [x, skip, g.Weight(prefix + ".weight"), g.Weight(prefix + ".bias")], [normalized, "", "", sum],
            Attr("epsilon", eps));
        node.Domain = "com.microsoft";
        return (normalized, sum);
    }

    static string LayerNorm(DecoderGraph g, string x, string prefix, float eps) =>
        g.Builder.Apply("LayerNormalization", [x, g.Weight(prefix + ".weight"), g.Weight(prefix + ".bias")], prefix,
            Attr("axis", -1L), Attr("epsilon", eps));
}
