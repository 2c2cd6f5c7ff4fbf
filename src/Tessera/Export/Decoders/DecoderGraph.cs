using Tessera.Transformers;
using static Tessera.Export.OnnxGraphBuilder;
using DataType = Tessera.Formats.Onnx.TensorProto.Types.DataType;

namespace Tessera.Export.Decoders;

/// <summary>
/// The parts GPT-2 and Llama decoder graphs share: the inputs and outputs under Hugging Face Optimum's names, the
/// additive causal-plus-padding (and sliding-window) mask built from <c>attention_mask</c>, and attention over past +
/// new keys with grouped-query heads repeated; weights, linear layers and activations come from <see cref="TransformerGraph"/>.
/// </summary>
internal sealed class DecoderGraph : TransformerGraph
{
    /// <summary>Symbolic dimension names, as Optimum writes them.</summary>
    public const string Batch = "batch_size", Sequence = "sequence_length", Past = "past_sequence_length", Total = "total_sequence_length";

    public DecoderGraph(CausalLanguageModel model, int opset, int numLayers, int kvHeads, int headDim, int? slidingWindow = null) : base(model, opset)
    {
        NumLayers = numLayers;
        KvHeads = kvHeads;
        HeadDim = headDim;
        InputIds = Builder.AddInput("input_ids", DataType.Int64, Batch, Sequence);
        AttentionMask = Builder.AddInput("attention_mask", DataType.Int64, Batch, Total);
        PositionIds = Builder.AddInput("position_ids", DataType.Int64, Batch, Sequence);
        PastKeys = new string[numLayers];
        PastValues = new string[numLayers];
        for (int i = 0; i < numLayers; i++)
        {
            PastKeys[i] = Builder.AddInput($"past_key_values.{i}.key", DataType.Float, Batch, kvHeads, Past, headDim);
            PastValues[i] = Builder.AddInput($"past_key_values.{i}.value", DataType.Float, Batch, kvHeads, Past, headDim);
        }
        Mask = BuildAdditiveMask(slidingWindow);
    }

    public int NumLayers { get; }
    public int KvHeads { get; }
    public int HeadDim { get; }
    public string InputIds { get; }
    public string AttentionMask { get; }
    public string PositionIds { get; }
    public string[] PastKeys { get; }
    public string[] PastValues { get; }

    /// <summary>The additive mask [batch, 1, seq, total]: 0 where a query may attend, float.MinValue elsewhere (later positions, padding, outside the sliding window).</summary>
    public string Mask { get; }

    /// <summary>
    /// Appends the new keys/values to layer <paramref name="layer"/>'s past (naming the results <c>present.{layer}.key/value</c>),
    /// then softmax(q kᵀ · scale + mask) v with key/value heads repeated for grouped-query attention; returns [b, s, heads·d].
    /// </summary>
    public string Attention(int layer, string q, string k, string v, int heads, double scale, string name)
    {
        string presentKey = $"present.{layer}.key", presentValue = $"present.{layer}.value";
        Builder.AddNode("Concat", [PastKeys[layer], k], [presentKey], Attr("axis", 2L));
        Builder.AddNode("Concat", [PastValues[layer], v], [presentValue], Attr("axis", 2L));
        Builder.AddOutput(presentKey, DataType.Float, Batch, KvHeads, Total, HeadDim);
        Builder.AddOutput(presentValue, DataType.Float, Batch, KvHeads, Total, HeadDim);
        string keys = RepeatKv(presentKey, heads, name + "/keys");
        string values = RepeatKv(presentValue, heads, name + "/values");
        return ScaledDotProductAttention(q, keys, values, Mask, heads, HeadDim, scale, name);
    }

    /// <summary>
    /// Attention as one ONNX Runtime <c>com.microsoft.MultiHeadAttention</c> node: q/k/v [b, s, heads·d] (not split into
    /// heads), the additive mask as attention_bias, layer <paramref name="layer"/>'s past in and
    /// <c>present.{layer}.key/value</c> out; returns [b, s, heads·d]. Needs as many key/value heads as query heads.
    /// </summary>
    public string FusedAttention(int layer, string q, string k, string v, int heads, double scale, string name)
    {
        if (KvHeads != heads) throw new OnnxExportException($"fused attention needs as many key/value heads as query heads ({KvHeads} vs {heads})");
        string presentKey = $"present.{layer}.key", presentValue = $"present.{layer}.value", output = name + "/context";
        // Inputs: query, key, value, bias, key_padding_mask, attention_bias, past_key, past_value.
        var node = Builder.AddNode("MultiHeadAttention", [q, k, v, "", "", Mask, PastKeys[layer], PastValues[layer]], [output, presentKey, presentValue],
            Attr("num_heads", (long)heads), Attr("scale", (float)scale));
        node.Domain = "com.microsoft";
        Builder.AddOutput(presentKey, DataType.Float, Batch, KvHeads, Total, HeadDim);
        Builder.AddOutput(presentValue, DataType.Float, Batch, KvHeads, Total, HeadDim);
        return output;
    }

    /// <summary>Declares <paramref name="logits"/> as the <c>logits</c> output and builds the model.</summary>
    public Formats.Onnx.ModelProto Finish(string logits, int vocabSize, IReadOnlyDictionary<string, string> metadata)
    {
        Builder.Rename(logits, "logits");
        Builder.AddOutput("logits", DataType.Float, Batch, Sequence, vocabSize);
        // Optimum's order: logits first, then present.* — move logits to the front.
        var outputs = Builder.Graph.Output;
        var last = outputs[^1];
        outputs.RemoveAt(outputs.Count - 1);
        outputs.Insert(0, last);
        return Builder.Build(metadata, "Tessera decoder with past key/values (Optimum input/output names)");
    }

    /// <summary>[b, kv_heads, t, d] → [b, heads, t, d], query head h reading key/value head h / (heads / kv_heads).</summary>
    string RepeatKv(string x, int heads, string name)
    {
        int groups = heads / KvHeads;
        if (groups == 1) return x;
        string u = Builder.Apply("Unsqueeze", [x, Longs(name + "/axis", false, 2)], name + "/unsqueeze");
        string e = Builder.Apply("Expand", [u, Longs(name + "/expand_shape", false, 1, 1, groups, 1, 1)], name + "/expand");
        return Builder.Apply("Reshape", [e, Longs(name + "/shape", false, 0, heads, -1, HeadDim)], name + "/repeat");
    }

    /// <summary>
    /// Query i (absolute position past + i) may see key j when j ≤ past + i and attention_mask[b, j] is 1; past is
    /// total (the mask's length) minus the number of new tokens; with a sliding window also past + i − j &lt; window.
    /// </summary>
    string BuildAdditiveMask(int? slidingWindow)
    {
        const string n = "mask";
        string zero = Longs(n + "/zero", true, 0), one = Longs(n + "/one", true, 1);
        string idsShape = Builder.Apply("Shape", [InputIds], n + "/ids_shape");
        string maskShape = Builder.Apply("Shape", [AttentionMask], n + "/mask_shape");
        string seq = Builder.Apply("Gather", [idsShape, one], n + "/seq", Attr("axis", 0L));
        string total = Builder.Apply("Gather", [maskShape, one], n + "/total", Attr("axis", 0L));
        string past = Builder.Apply("Sub", [total, seq], n + "/past");
        string queries = Builder.Apply("Range", [past, total, one], n + "/query_positions");
        string keys = Builder.Apply("Range", [zero, total, one], n + "/key_positions");
        string q2 = Builder.Apply("Unsqueeze", [queries, Longs(n + "/axis1", false, 1)], n + "/query_col");
        string k2 = Builder.Apply("Unsqueeze", [keys, Longs(n + "/axis0", false, 0)], n + "/key_row");
        string causal = Builder.Apply("LessOrEqual", [k2, q2], n + "/causal"); // [seq, total]
        if (slidingWindow is int window)
        {
            string distance = Builder.Apply("Sub", [q2, k2], n + "/distance");
            string inWindow = Builder.Apply("Less", [distance, Longs(n + "/window", true, window)], n + "/in_window");
            causal = Builder.Apply("And", [causal, inWindow], n + "/causal_window");
        }
        string keep = Builder.Apply("Cast", [AttentionMask], n + "/keep", Attr("to", (long)DataType.Bool));
        keep = Builder.Apply("Unsqueeze", [keep, Longs(n + "/axes12", false, 1, 2)], n + "/keep4"); // [b, 1, 1, total]
        string allowed = Builder.Apply("And", [causal, keep], n + "/allowed"); // [b, 1, seq, total]
        return Builder.Apply("Where", [allowed, Float(n + "/open", 0f), Float(n + "/closed", float.MinValue)], "attention_bias");
    }
}
