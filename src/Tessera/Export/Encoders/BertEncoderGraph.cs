using Tessera.Transformers;
using static Tessera.Export.OnnxGraphBuilder;
using DataType = Tessera.Formats.Onnx.TensorProto.Types.DataType;

namespace Tessera.Export.Encoders;

/// <summary>
/// Writes BERT (<see cref="BertModel"/>, <see cref="BertForMaskedLM"/>, <see cref="BertForSequenceClassification"/>)
/// as an ONNX encoder with Optimum's inputs <c>input_ids</c>, <c>attention_mask</c>, <c>token_type_ids</c> [batch,
/// seq]: word + token-type + position embeddings and LayerNorm, post-norm layers with a key-padding mask, and the
/// head's outputs (<c>last_hidden_state</c> and <c>pooler_output</c>, or <c>logits</c>).
/// </summary>
internal static class BertEncoderGraph
{
    const string Batch = "batch_size", Sequence = "sequence_length";

    public static Formats.Onnx.ModelProto Build(PreTrainedModel model, BertConfig c, IReadOnlyDictionary<string, string> metadata, int opset, out IReadOnlyList<string> outputs)
    {
        var g = new TransformerGraph(model, opset);
        OnnxGraphBuilder b = g.Builder;
        string p = model is BertModel ? "" : "bert.";
        string ids = b.AddInput("input_ids", DataType.Int64, Batch, Sequence);
        string mask = b.AddInput("attention_mask", DataType.Int64, Batch, Sequence);
        string types = b.AddInput("token_type_ids", DataType.Int64, Batch, Sequence);

        string seq = b.Apply("Gather", [b.Apply("Shape", [ids], "embed/shape"), g.Longs("embed/one", true, 1)], "embed/seq", Attr("axis", 0L));
        string positions = b.Apply("Range", [g.Longs("embed/zero", true, 0), seq, g.Longs("embed/step", true, 1)], "embed/positions");
        string x = b.Apply("Gather", [g.Weight($"{p}embeddings.word_embeddings.weight"), ids], "embed/words", Attr("axis", 0L));
        x = b.Apply("Add", [x, b.Apply("Gather", [g.Weight($"{p}embeddings.token_type_embeddings.weight"), types], "embed/types", Attr("axis", 0L))], "embed/words_types");
        x = b.Apply("Add", [x, b.Apply("Gather", [g.Weight($"{p}embeddings.position_embeddings.weight"), positions], "embed/position_rows", Attr("axis", 0L))], "embed/sum");
        x = g.LayerNorm(x, $"{p}embeddings.LayerNorm", c.LayerNormEps);

        string keep = b.Apply("Cast", [mask], "mask/keep", Attr("to", (long)DataType.Bool));
        keep = b.Apply("Unsqueeze", [keep, g.Longs("mask/axes", false, 1, 2)], "mask/keep4");
        string additive = b.Apply("Where", [keep, g.Float("mask/open", 0f), g.Float("mask/closed", float.MinValue)], "attention_bias");

        int heads = c.NumAttentionHeads, d = c.HeadDim;
        for (int i = 0; i < c.NumHiddenLayers; i++)
        {
            string l = $"{p}encoder.layer.{i}";
            string q = g.SplitHeads(Proj(g, x, $"{l}.attention.self.query"), heads, d, $"{l}/q");
            string k = g.SplitHeads(Proj(g, x, $"{l}.attention.self.key"), heads, d, $"{l}/k");
            string v = g.SplitHeads(Proj(g, x, $"{l}.attention.self.value"), heads, d, $"{l}/v");
            string attn = g.ScaledDotProductAttention(q, k, v, additive, heads, d, 1.0 / Math.Sqrt(d), $"{l}/attn");
            string h = b.Apply("Add", [Proj(g, attn, $"{l}.attention.output.dense"), x], $"{l}/residual1");
            h = g.LayerNorm(h, $"{l}.attention.output.LayerNorm", c.LayerNormEps);
            string inner = g.Activation(c.HiddenAct, Proj(g, h, $"{l}.intermediate.dense"), $"{l}/act");
            x = b.Apply("Add", [Proj(g, inner, $"{l}.output.dense"), h], $"{l}/residual2");
            x = g.LayerNorm(x, $"{l}.output.LayerNorm", c.LayerNormEps);
        }

        switch (model)
        {
            case BertForMaskedLM:
            {
                string t = Proj(g, x, "cls.predictions.transform.dense");
                t = g.LayerNorm(g.Activation(c.HiddenAct, t, "cls/act"), "cls.predictions.transform.LayerNorm", c.LayerNormEps);
                string logits = g.TiedProjection(t, g.Weight($"{p}embeddings.word_embeddings.weight"), c.HiddenSize, c.VocabSize, "cls/decoder");
                Output(b, b.Apply("Add", [logits, g.Weight("cls.predictions.bias")], "cls/logits"), "logits", Batch, Sequence, c.VocabSize);
                outputs = ["logits"];
                break;
            }
            case BertForSequenceClassification:
                Output(b, Proj(g, Pooler(g, x, p), "classifier"), "logits", Batch, c.NumLabels);
                outputs = ["logits"];
                break;
            default:
                b.AddNode("Identity", [x], ["last_hidden_state"]);
                b.AddOutput("last_hidden_state", DataType.Float, Batch, Sequence, c.HiddenSize);
                if (g.HasWeight($"{p}pooler.dense.weight"))
                {
                    Output(b, Pooler(g, x, p), "pooler_output", Batch, c.HiddenSize);
                    outputs = ["last_hidden_state", "pooler_output"];
                }
                else
                {
                    outputs = ["last_hidden_state"];
                }
                break;
        }
        return b.Build(metadata, "Tessera BERT encoder (Optimum input/output names)");
    }

    /// <summary>tanh(dense(hidden[:, 0])).</summary>
    static string Pooler(TransformerGraph g, string x, string p)
    {
        string first = g.Builder.Apply("Gather", [x, g.Longs("pooler/index", true, 0)], "pooler/first", Attr("axis", 1L));
        return g.Builder.Apply("Tanh", [Proj(g, first, $"{p}pooler.dense")], "pooler/tanh");
    }

    static string Proj(TransformerGraph g, string x, string prefix) =>
        g.Linear(x, g.Weight(prefix + ".weight", transpose: true), g.Weight(prefix + ".bias"), prefix);

    static void Output(OnnxGraphBuilder b, string value, string name, params OnnxDimension[] shape)
    {
        b.Rename(value, name);
        b.AddOutput(name, DataType.Float, shape);
    }
}
