using Tessera.Formats.SafeTensors;
using Tessera.Tests.Shared;
using Tessera.Transformers;
using TorchSharp;
using static TorchSharp.torch;

namespace Tessera.Tests.Transformers;

public class Gpt2Tests
{
    [Fact]
    public void State_dict_has_the_hf_checkpoint_names_and_conv1d_layouts()
    {
        using var model = new Gpt2LMHeadModel(TinyModels.Gpt2());
        var shapes = model.state_dict().ToDictionary(kv => kv.Key, kv => kv.Value.shape);
        Assert.Equal([100L, 32], shapes["transformer.wte.weight"]);
        Assert.Equal([32L, 32], shapes["transformer.wpe.weight"]);
        Assert.Equal([32L, 96], shapes["transformer.h.0.attn.c_attn.weight"]); // Conv1D: [in, out]
        Assert.Equal([96L], shapes["transformer.h.0.attn.c_attn.bias"]);
        Assert.Equal([32L, 32], shapes["transformer.h.1.attn.c_proj.weight"]);
        Assert.Equal([32L, 128], shapes["transformer.h.1.mlp.c_fc.weight"]);
        Assert.Equal([128L, 32], shapes["transformer.h.1.mlp.c_proj.weight"]);
        Assert.Contains("transformer.h.0.ln_1.weight", shapes.Keys);
        Assert.Contains("transformer.h.0.ln_2.bias", shapes.Keys);
        Assert.Contains("transformer.ln_f.weight", shapes.Keys);
        Assert.DoesNotContain("lm_head.weight", shapes.Keys); // tied to wte, as HF saves it
        Assert.Equal(4 + 2 * 12, shapes.Count);
    }

    [Trait("Category", "Slow")]
    [Fact]
    public void Logits_match_the_pytorch_reference_with_left_padding()
    {
        Requires.Python("torch");
        using var dir = new TempDirectory("tessera-gpt2-");
        using var scope = NewDisposeScope();
        random.manual_seed(7);
        using var model = new Gpt2LMHeadModel(TinyModels.Gpt2());
        TinyModels.Randomize(model, 1);
        model.eval();
        model.SavePretrained(dir.Path);
        var (ids, mask) = TinyModels.Inputs(100, 12, seed: 3, 0, 4, 1);
        TinyModels.WriteLongs(dir.File("ids.bin"), ids);
        TinyModels.WriteLongs(dir.File("mask.bin"), mask);

        Tensor logits;
        using (no_grad()) logits = model.forward(ids, mask, useCache: false).Logits;
        TinyModels.RunReference("gpt2", dir.Path, "3");

        double error = TinyModels.MaxErrorOnTokens(ReferencePython.ReadFloats(dir.File("logits.bin")), logits, mask);
        Assert.True(error <= 1e-4, $"max abs error {error:g3} > 1e-4");
    }

    [Fact]
    public void Incremental_decoding_with_the_cache_gives_the_full_sequence_logits()
    {
        using var scope = NewDisposeScope();
        random.manual_seed(11);
        using var model = new Gpt2LMHeadModel(TinyModels.Gpt2());
        TinyModels.Randomize(model, 2);
        model.eval();
        var (ids, mask) = TinyModels.Inputs(100, 10, seed: 5, 0, 3);
        Assert.True(TinyModels.IncrementalVersusFull(model, ids, mask, prefill: 6) <= 1e-5); // prompt of 6, then one token at a time
    }

    [Fact]
    public void A_left_padded_row_gives_the_logits_of_the_row_alone()
    {
        using var scope = NewDisposeScope();
        random.manual_seed(12);
        using var model = new Gpt2LMHeadModel(TinyModels.Gpt2());
        TinyModels.Randomize(model, 3);
        model.eval();
        Assert.True(TinyModels.LeftPaddedRowVersusAlone(model) <= 1e-5);
    }

    [Fact]
    public void Sequences_longer_than_n_positions_are_refused()
    {
        using var model = new Gpt2LMHeadModel(TinyModels.Gpt2());
        using var ids = zeros([1, 33], ScalarType.Int64);
        var e = Assert.Throws<ArgumentException>(() => model.forward(ids));
        Assert.Contains("n_positions = 32", e.Message);
    }

    [Fact]
    public void Checkpoints_without_the_transformer_prefix_load_like_the_gpt2_hub_repo()
    {
        using var dir = new TempDirectory("tessera-gpt2-");
        using var scope = NewDisposeScope();
        using var source = new Gpt2LMHeadModel(TinyModels.Gpt2());
        TinyModels.Randomize(source, 4);
        // The "gpt2" repository was saved from GPT2Model: keys without "transformer.", plus old attn.bias buffers.
        var tensors = source.state_dict().Select(kv => KeyValuePair.Create(kv.Key["transformer.".Length..], kv.Value)).ToList();
        tensors.Add(KeyValuePair.Create("h.0.attn.bias", ones(1, 1, 32, 32)));
        Tessera.Checkpoints.SafeTensorsTorch.Save(dir.File("model.safetensors"), tensors, new Dictionary<string, string> { ["format"] = "pt" });
        TinyModels.Gpt2().Save(dir.File("config.json"));

        using var loaded = Gpt2LMHeadModel.FromPretrained(dir.Path);
        var (ids, _) = TinyModels.Inputs(100, 6, seed: 1, 0);
        source.eval();
        using var noGrad = no_grad();
        Assert.Equal(0, TinyModels.MaxDifference(source.forward(ids).Logits, loaded.forward(ids).Logits));
        Assert.Empty(loaded.LoadWeights(dir.Path).UnexpectedKeys);
    }
}
