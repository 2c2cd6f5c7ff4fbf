using Tessera.Transformers;

namespace Tessera.Models;

/// <summary>
/// How each built-in config sizes its weights: the <see cref="WeightDimension"/>s checked against a checkpoint header and
/// the parameter count (in double, so a hostile config cannot overflow it), both before a model is allocated.
/// </summary>
internal static class BuiltInSizes
{
    public static IEnumerable<WeightDimension> Gpt2(Gpt2Config c)
    {
        yield return WeightDimension.Of("vocab_size", c.VocabSize, "wte.weight", 0);
        yield return WeightDimension.Of("n_embd", c.NEmbd, "wte.weight", 1);
        yield return WeightDimension.Of("n_positions", c.NPositions, "wpe.weight", 0);
        if (c.NInner is { } inner) yield return WeightDimension.Of("n_inner", inner, "h.0.mlp.c_fc.weight", 1);
        yield return WeightDimension.Layers("n_layer", c.NLayer, "h");
    }

    public static double Gpt2Parameters(Gpt2Config c)
    {
        double e = c.NEmbd, inner = c.NInner ?? 4.0 * c.NEmbd;
        double layer = 4 * e + (3 * e * e + 3 * e) + (e * e + e) + (e * inner + inner) + (inner * e + e);
        return ((double)c.VocabSize + c.NPositions) * e + c.NLayer * layer + 2 * e;
    }

    public static IEnumerable<WeightDimension> Llama(LlamaConfig c)
    {
        yield return WeightDimension.Of("vocab_size", c.VocabSize, "embed_tokens.weight", 0);
        yield return WeightDimension.Of("hidden_size", c.HiddenSize, "embed_tokens.weight", 1);
        yield return new WeightDimension("num_attention_heads", c.NumAttentionHeads, "layers.0.self_attn.q_proj.weight", 0, (long)c.NumAttentionHeads * c.HeadDim);
        yield return new WeightDimension("num_key_value_heads", c.KeyValueHeads, "layers.0.self_attn.k_proj.weight", 0, (long)c.KeyValueHeads * c.HeadDim);
        yield return WeightDimension.Of("intermediate_size", c.IntermediateSize, "layers.0.mlp.gate_proj.weight", 0);
        yield return WeightDimension.Layers("num_hidden_layers", c.NumHiddenLayers, "layers");
    }

    public static double LlamaParameters(LlamaConfig c)
    {
        double h = c.HiddenSize, q = (double)c.NumAttentionHeads * c.HeadDim, kv = (double)c.KeyValueHeads * c.HeadDim, i = c.IntermediateSize;
        double layer = 2 * h * q + 2 * h * kv + 3 * h * i + 2 * h;
        return (c.TieWordEmbeddings ? 1 : 2) * (double)c.VocabSize * h + c.NumHiddenLayers * layer + h;
    }

    public static IEnumerable<WeightDimension> Bert(BertConfig c)
    {
        yield return WeightDimension.Of("vocab_size", c.VocabSize, "embeddings.word_embeddings.weight", 0);
        yield return WeightDimension.Of("hidden_size", c.HiddenSize, "embeddings.word_embeddings.weight", 1);
        yield return WeightDimension.Of("max_position_embeddings", c.MaxPositionEmbeddings, "embeddings.position_embeddings.weight", 0);
        yield return WeightDimension.Of("type_vocab_size", c.TypeVocabSize, "embeddings.token_type_embeddings.weight", 0);
        yield return WeightDimension.Of("intermediate_size", c.IntermediateSize, "encoder.layer.0.intermediate.dense.weight", 0);
        yield return WeightDimension.Layers("num_hidden_layers", c.NumHiddenLayers, "encoder.layer");
    }

    public static double BertParameters(BertConfig c)
    {
        double h = c.HiddenSize, i = c.IntermediateSize;
        double layer = 4 * h * h + 2 * h * i + 10 * h + i;
        // Embeddings, layers, pooler and the masked-LM head's transform and bias.
        return ((double)c.VocabSize + c.MaxPositionEmbeddings + c.TypeVocabSize) * h + c.NumHiddenLayers * layer + 2 * (h * h + h) + c.VocabSize;
    }

    public static IEnumerable<WeightDimension> Cnn(CnnConfig c)
    {
        long side = c.ImageSize / 4;
        yield return WeightDimension.Of("in_channels", c.InChannels, "conv1.weight", 1);
        yield return WeightDimension.Of("hidden", c.Hidden, "fc1.weight", 0);
        yield return new WeightDimension("image_size", c.ImageSize, "fc1.weight", 1, side * side * CnnConfig.Conv2Channels);
        yield return WeightDimension.Of("num_classes", c.NumClasses, "fc2.weight", 0);
    }

    public static double CnnParameters(CnnConfig c)
    {
        double side = c.ImageSize / 4, features = side * side * CnnConfig.Conv2Channels;
        return 9.0 * CnnConfig.Conv1Channels * (c.InChannels + CnnConfig.Conv2Channels) + features * c.Hidden + (double)c.Hidden * c.NumClasses + 2.0 * c.Hidden;
    }

    public static IEnumerable<WeightDimension> Mlp(MlpConfig c)
    {
        yield return WeightDimension.Of("input_size", c.InputSize, "layers.0.weight", 1);
        for (int i = 0; i < c.HiddenSizes.Count; i++) yield return WeightDimension.Of($"hidden_sizes[{i}]", c.HiddenSizes[i], $"layers.{i}.weight", 0);
        yield return WeightDimension.Of("num_classes", c.NumClasses, $"layers.{c.HiddenSizes.Count}.weight", 0);
        yield return new WeightDimension("hidden_sizes (entries)", c.HiddenSizes.Count, "layers", WeightDimension.LayerCount, c.HiddenSizes.Count + 1L);
    }

    public static double MlpParameters(MlpConfig c)
    {
        double total = 0, inFeatures = c.InputSize;
        foreach (double width in c.HiddenSizes.Append(c.NumClasses))
        {
            total += inFeatures * width + width;
            inFeatures = width;
        }
        return total;
    }

    public static IEnumerable<WeightDimension> ResNet(ResNetConfig c)
    {
        yield return WeightDimension.Of("in_channels", c.InChannels, "conv1.weight", 1);
        yield return WeightDimension.Of("widths[0]", c.Widths[0], "conv1.weight", 0);
        yield return WeightDimension.Of("num_classes", c.NumClasses, "fc.weight", 0);
        yield return WeightDimension.Of($"widths[{c.Widths.Count - 1}]", c.Widths[^1], "fc.weight", 1);
        yield return new WeightDimension("depths (entries)", c.Depths.Count, "layers", WeightDimension.LayerCount, c.Depths.Count);
    }

    public static double ResNetParameters(ResNetConfig c)
    {
        double total = 9.0 * c.InChannels * c.Widths[0], previous = c.Widths[0];
        for (int s = 0; s < c.Depths.Count; s++)
        {
            double w = c.Widths[s];
            total += c.Depths[s] * (18 * w * w + 4 * w) + previous * w + 2 * w;
            previous = w;
        }
        return total + previous * c.NumClasses + c.NumClasses;
    }
}
