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
    public static Formats.Onnx.ModelProto Build(Gpt2LMHeadModel model, IReadOnlyDictionary<string, string> metadata, bool fusedAttention = false)
    {
        Gpt2Config c = model.Config;
        var g = new DecoderGraph(model, c.NLayer, c.NHead, c.HeadDim);
        OnnxGraphBuilder b = g.Builder;
        const string p = "transformer";
        float eps = (float)c.LayerNormEpsilon;

        string tokens = b.Apply("Gather", [g.Weight($"{p}.wte.weight"), g.InputIds], "embed/tokens", Attr("axis", 0L));
        string positions = b.Apply("Gather", [g.Weight($"{p}.wpe.weight"), g.PositionIds], "embed/positions", Attr("axis", 0L));
        string x = b.Apply("Add", [tokens, positions], "embed/sum");
        string splits = g.Longs("attn/splits", false, c.NEmbd, c.NEmbd, c.NEmbd);
        for (int i = 0; i < c.NLayer; i++)
        {
            string l = $"{p}.h.{i}";
            string h = LayerNorm(g, x, $"{l}.ln_1", eps);
            string qkv = g.Linear(h, g.Weight($"{l}.attn.c_attn.weight"), g.Weight($"{l}.attn.c_attn.bias"), $"{l}/c_attn");
            string q = $"{l}/q_split", k = $"{l}/k_split", v = $"{l}/v_split";
            b.AddNode("Split", [qkv, splits], [q, k, v], Attr("axis", 2L));
            double scale = (c.ScaleAttnWeights ? 1.0 / Math.Sqrt(c.HeadDim) : 1.0) / (c.ScaleAttnByInverseLayerIdx ? i + 1 : 1);
            string attn = fusedAttention
                ? g.FusedAttention(i, q, k, v, c.NHead, scale, $"{l}/attn")
                : g.Attention(i, g.SplitHeads(q, c.NHead, c.HeadDim, $"{l}/q"), g.SplitHeads(k, c.NHead, c.HeadDim, $"{l}/k"), g.SplitHeads(v, c.NHead, c.HeadDim, $"{l}/v"), c.NHead, scale, $"{l}/attn");
            attn = g.Linear(attn, g.Weight($"{l}.attn.c_proj.weight"), g.Weight($"{l}.attn.c_proj.bias"), $"{l}/attn_proj");
            x = b.Apply("Add", [x, attn], $"{l}/residual1");
            h = LayerNorm(g, x, $"{l}.ln_2", eps);
            h = g.Linear(h, g.Weight($"{l}.mlp.c_fc.weight"), g.Weight($"{l}.mlp.c_fc.bias"), $"{l}/c_fc");
            h = g.Activation(c.ActivationFunction, h, $"{l}/act");
            h = g.Linear(h, g.Weight($"{l}.mlp.c_proj.weight"), g.Weight($"{l}.mlp.c_proj.bias"), $"{l}/mlp_proj");
            x = b.Apply("Add", [x, h], $"{l}/residual2");
        }
        x = LayerNorm(g, x, $"{p}.ln_f", eps);
        string logits = g.TiedProjection(x, g.Weight($"{p}.wte.weight"), c.NEmbd, c.VocabSize, "lm_head");
        return g.Finish(logits, c.VocabSize, metadata);
    }

    static string LayerNorm(DecoderGraph g, string x, string prefix, float eps) =>
        g.Builder.Apply("LayerNormalization", [x, g.Weight(prefix + ".weight"), g.Weight(prefix + ".bias")], prefix,
            Attr("axis", -1L), Attr("epsilon", eps));
}
