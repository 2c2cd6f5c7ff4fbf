using Tessera.Transformers;
using static Tessera.Export.OnnxGraphBuilder;
using static TorchSharp.torch;

namespace Tessera.Export.Decoders;

/// <summary>
/// Writes <see cref="LlamaForCausalLM"/> as an ONNX decoder with past key/values: RMSNorm as
/// <c>x / sqrt(mean(x²) + eps) · w</c>, rotary embedding from cos/sin tables gathered by <c>position_ids</c> with
/// <c>rotate_half</c> as Slice/Neg/Concat, grouped-query attention (key/value heads repeated with Expand/Reshape),
/// the SwiGLU MLP, the sliding window of Mistral/Qwen2 when set, and the head (tied to <c>embed_tokens</c> or <c>lm_head</c>).
/// </summary>
internal static class LlamaDecoderGraph
{
    public static Formats.Onnx.ModelProto Build(LlamaForCausalLM model, IReadOnlyDictionary<string, string> metadata, int opset)
    {
        LlamaConfig c = model.Config;
        int heads = c.NumAttentionHeads, kvHeads = c.KeyValueHeads, d = c.HeadDim;
        var g = new DecoderGraph(model, opset, c.NumHiddenLayers, kvHeads, d, c.EffectiveSlidingWindow);
        OnnxGraphBuilder b = g.Builder;
        const string p = "model";
        float eps = (float)c.RmsNormEps;

        var (cosTable, sinTable) = RopeTables(c, b);
        string axis1 = g.Longs("rope/axis1", false, 1);
        string cos = b.Apply("Unsqueeze", [b.Apply("Gather", [cosTable, g.PositionIds], "rope/cos_rows", Attr("axis", 0L)), axis1], "rope/cos");
        string sin = b.Apply("Unsqueeze", [b.Apply("Gather", [sinTable, g.PositionIds], "rope/sin_rows", Attr("axis", 0L)), axis1], "rope/sin");
        var rope = new Rope(g, cos, sin, d);

        string x = b.Apply("Gather", [g.Weight($"{p}.embed_tokens.weight"), g.InputIds], "embed/tokens", Attr("axis", 0L));
        for (int i = 0; i < c.NumHiddenLayers; i++)
        {
            string l = $"{p}.layers.{i}";
            string h = RmsNorm(g, x, $"{l}.input_layernorm.weight", eps, $"{l}/input_norm");
            string q = g.SplitHeads(Proj(g, h, $"{l}.self_attn.q_proj"), heads, d, $"{l}/q");
            string k = g.SplitHeads(Proj(g, h, $"{l}.self_attn.k_proj"), kvHeads, d, $"{l}/k");
            string v = g.SplitHeads(Proj(g, h, $"{l}.self_attn.v_proj"), kvHeads, d, $"{l}/v");
            q = rope.Apply(q, $"{l}/q_rope");
            k = rope.Apply(k, $"{l}/k_rope");
            string attn = g.Attention(i, q, k, v, heads, 1.0 / Math.Sqrt(d), $"{l}/attn");
            x = b.Apply("Add", [x, Proj(g, attn, $"{l}.self_attn.o_proj")], $"{l}/residual1");
            h = RmsNorm(g, x, $"{l}.post_attention_layernorm.weight", eps, $"{l}/post_norm");
            string gate = g.Activation(c.HiddenAct, Proj(g, h, $"{l}.mlp.gate_proj"), $"{l}/act");
            string up = b.Apply("Mul", [gate, Proj(g, h, $"{l}.mlp.up_proj")], $"{l}/swiglu");
            x = b.Apply("Add", [x, Proj(g, up, $"{l}.mlp.down_proj")], $"{l}/residual2");
        }
        x = RmsNorm(g, x, $"{p}.norm.weight", eps, "norm");
        string logits = g.HasWeight("lm_head.weight")
            ? b.Apply("MatMul", [x, g.Weight("lm_head.weight", transpose: true)], "lm_head")
            : g.TiedProjection(x, g.Weight($"{p}.embed_tokens.weight"), c.HiddenSize, c.VocabSize, "lm_head");
        return g.Finish(logits, c.VocabSize, metadata);
    }

    /// <summary>A Linear layer (weight [out, in] stored transposed) with its bias when the checkpoint has one.</summary>
    static string Proj(DecoderGraph g, string x, string prefix) =>
        g.Linear(x, g.Weight(prefix + ".weight", transpose: true), g.HasWeight(prefix + ".bias") ? g.Weight(prefix + ".bias") : null, prefix);

    static string RmsNorm(DecoderGraph g, string x, string weight, float eps, string name)
    {
        OnnxGraphBuilder b = g.Builder;
        string square = b.Apply("Pow", [x, g.Float(name + "/two", 2f)], name + "/square");
        string mean = g.ReduceMeanLastAxis(square, name + "/mean");
        string root = b.Apply("Sqrt", [b.Apply("Add", [mean, g.Float(name + "/eps", eps)], name + "/plus_eps")], name + "/root");
        string inverse = b.Apply("Reciprocal", [root], name + "/inverse");
        return b.Apply("Mul", [g.Weight(weight), b.Apply("Mul", [x, inverse], name + "/normed")], name + "/out");
    }

    /// <summary>cos and sin [max_positions, head_dim], computed by the same code as the TorchSharp model so the tables match bit for bit.</summary>
    static (string Cos, string Sin) RopeTables(LlamaConfig c, OnnxGraphBuilder b)
    {
        using var scope = NewDisposeScope();
        var rotary = new RotaryEmbedding(c);
        Tensor positions = arange(0L, (long)c.MaxPositionEmbeddings, dtype: ScalarType.Int64).unsqueeze(0);
        var (cos, sin) = rotary.CosSin(positions);
        return (b.AddInitializer("rope.cos_table", cos.squeeze(0)), b.AddInitializer("rope.sin_table", sin.squeeze(0)));
    }

    /// <summary>x · cos + rotate_half(x) · sin with rotate_half(x) = concat(−x[..., d/2:], x[..., :d/2]).</summary>
    sealed class Rope(DecoderGraph g, string cos, string sin, int headDim)
    {
        readonly string axis = g.Longs("rope/last_axis", false, -1);
        readonly string start = g.Longs("rope/start", false, 0);
        readonly string middle = g.Longs("rope/middle", false, headDim / 2);
        readonly string end = g.Longs("rope/end", false, headDim);

        public string Apply(string x, string name)
        {
            OnnxGraphBuilder b = g.Builder;
            string first = b.Apply("Slice", [x, start, middle, axis], name + "/first_half");
            string second = b.Apply("Slice", [x, middle, end, axis], name + "/second_half");
            string rotated = b.Apply("Concat", [b.Apply("Neg", [second], name + "/neg"), first], name + "/rotated", Attr("axis", -1L));
            string a = b.Apply("Mul", [x, cos], name + "/x_cos");
            string s = b.Apply("Mul", [rotated, sin], name + "/rot_sin");
            return b.Apply("Add", [a, s], name + "/out");
        }
    }
}
