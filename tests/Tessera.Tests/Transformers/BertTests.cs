using Tessera.Tests.Shared;
using Tessera.Transformers;
using TorchSharp;
using static TorchSharp.torch;

namespace Tessera.Tests.Transformers;

public class BertTests
{
    [Fact]
    public void State_dicts_have_the_hf_checkpoint_names()
    {
        using var mlm = new BertForMaskedLM(TinyModels.Bert());
        var keys = mlm.state_dict().Keys.ToHashSet();
        foreach (string k in new[]
        {
            "bert.embeddings.word_embeddings.weight", "bert.embeddings.position_embeddings.weight", "bert.embeddings.token_type_embeddings.weight",
            "bert.embeddings.LayerNorm.weight", "bert.embeddings.LayerNorm.bias",
            "bert.encoder.layer.0.attention.self.query.weight", "bert.encoder.layer.0.attention.self.key.bias", "bert.encoder.layer.1.attention.self.value.weight",
            "bert.encoder.layer.0.attention.output.dense.weight", "bert.encoder.layer.0.attention.output.LayerNorm.weight",
            "bert.encoder.layer.1.intermediate.dense.weight", "bert.encoder.layer.1.output.dense.weight", "bert.encoder.layer.1.output.LayerNorm.bias",
            "cls.predictions.bias", "cls.predictions.transform.dense.weight", "cls.predictions.transform.LayerNorm.weight",
        })
            Assert.Contains(k, keys);
        Assert.DoesNotContain(keys, k => k.Contains("pooler", StringComparison.Ordinal) || k.Contains("decoder", StringComparison.Ordinal));

        using var classifier = new BertForSequenceClassification(TinyModels.Bert());
        var shapes = classifier.state_dict().ToDictionary(kv => kv.Key, kv => kv.Value.shape);
        Assert.Equal([32L, 32], shapes["bert.pooler.dense.weight"]);
        Assert.Equal([3L, 32], shapes["classifier.weight"]);
    }

    [Trait("Category", "Slow")]
    [Fact]
    public void Masked_lm_classifier_and_mean_pooled_embeddings_match_the_pytorch_reference()
    {
        Requires.Python("torch");
        using var dir = new TempDirectory("tessera-bert-");
        using var scope = NewDisposeScope();
        random.manual_seed(21);
        BertConfig config = TinyModels.Bert();
        using var mlm = new BertForMaskedLM(config);
        using var classifier = new BertForSequenceClassification(config);
        TinyModels.Randomize(mlm, 1);
        TinyModels.Randomize(classifier, 2);
        mlm.eval();
        classifier.eval();
        mlm.SavePretrained(Path.Combine(dir.Path, "mlm"));
        classifier.SavePretrained(Path.Combine(dir.Path, "cls"));

        // BERT batches pad on the right; row 1 is a two-segment input.
        var (ids, _) = TinyModels.Inputs(100, 10, seed: 4, 0, 0);
        Tensor mask = tensor(new long[] { 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0 }, [2, 10]);
        Tensor types = tensor(new long[] { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 0, 0, 0, 0 }, [2, 10]);
        TinyModels.WriteLongs(dir.File("ids.bin"), ids);
        TinyModels.WriteLongs(dir.File("mask.bin"), mask);
        TinyModels.WriteLongs(dir.File("types.bin"), types);

        Tensor mlmLogits, classLogits, embeddings;
        using (no_grad())
        {
            mlmLogits = mlm.forward(ids, mask, types);
            classLogits = classifier.forward(ids, mask, types);
            embeddings = SentenceEmbeddings.MeanPool(classifier.Bert.forward(ids, mask, types).LastHiddenState, mask);
        }
        TinyModels.RunReference("bert", dir.Path, "2");

        // Padding never queries anything a token sees, so every position is compared.
        Assert.True(TinyModels.MaxErrorOnTokens(ReferencePython.ReadFloats(dir.File("mlm_logits.bin")), mlmLogits, null) <= 1e-4);
        Assert.True(TinyModels.MaxErrorOnTokens(ReferencePython.ReadFloats(dir.File("cls_logits.bin")), classLogits.unsqueeze(1), null) <= 1e-4);
        Assert.True(TinyModels.MaxErrorOnTokens(ReferencePython.ReadFloats(dir.File("embeddings.bin")), embeddings.unsqueeze(1), null) <= 1e-4);
    }

    [Fact]
    public void Mean_pooling_ignores_padding_and_normalizes()
    {
        using var scope = NewDisposeScope();
        Tensor hidden = tensor(new float[] { 1, 2, 3, 4, 100, 100 }, [1, 3, 2]);
        Tensor mask = tensor(new long[] { 1, 1, 0 }, [1, 3]);
        Tensor pooled = SentenceEmbeddings.MeanPool(hidden, mask);
        Assert.Equal(new float[] { 2, 3 }, pooled.data<float>().ToArray());
        Tensor unit = SentenceEmbeddings.MeanPool(hidden, mask, normalize: true);
        Assert.Equal(1.0, unit.norm().item<float>(), 5);
    }

    [Fact]
    public void A_new_classification_head_loads_from_an_encoder_checkpoint_only_when_allowed()
    {
        using var dir = new TempDirectory("tessera-bert-");
        using (var encoder = new BertModel(TinyModels.Bert())) encoder.SavePretrained(dir.Path);
        var e = Assert.Throws<Tessera.Formats.TesseraFormatException>(() => BertForSequenceClassification.FromPretrained(dir.Path));
        Assert.Contains("classifier.weight", e.Message);
        using var model = BertForSequenceClassification.FromPretrained(dir.Path, new FromPretrainedOptions { AllowMissingKeys = true });
        Assert.Equal(3, model.Config.NumLabels);
    }
}
