using System.Text.Json;
using Tessera.Tests.Shared;
using Tessera.Transformers;
using TorchSharp;
using static TorchSharp.torch;

namespace Tessera.Tests.Transformers;

public class LlamaTests
{
    public static TheoryData<string> Variants => new() { "llama-gqa", "qwen2-tied-bias", "llama3-rope-scaling-head-dim", "mistral" };

    static LlamaConfig Config(string variant) => variant switch
    {
        "llama-gqa" => TinyModels.Llama(),
        "qwen2-tied-bias" => TinyModels.Llama() with { ModelType = "qwen2", TieWordEmbeddings = true, RopeTheta = 1_000_000, NumKeyValueHeads = 1 },
        "llama3-rope-scaling-head-dim" => TinyModels.Llama() with
        {
            HeadDimOverride = 16, RopeTheta = 500_000, RmsNormEps = 1e-5,
            RopeScaling = JsonDocument.Parse("""{"rope_type":"llama3","factor":8.0,"low_freq_factor":1.0,"high_freq_factor":4.0,"original_max_position_embeddings":16}""").RootElement.Clone(),
        },
        "mistral" => TinyModels.Llama() with { ModelType = "mistral", SlidingWindow = 4096, NumKeyValueHeads = 4 },
        _ => throw new ArgumentOutOfRangeException(nameof(variant)),
    };

    [Fact]
    public void State_dict_has_the_hf_checkpoint_names_and_gqa_shapes()
    {
        using var model = new LlamaForCausalLM(TinyModels.Llama());
        var shapes = model.state_dict().ToDictionary(kv => kv.Key, kv => kv.Value.shape);
        Assert.Equal([100L, 32], shapes["model.embed_tokens.weight"]);
        Assert.Equal([32L, 32], shapes["model.layers.0.self_attn.q_proj.weight"]);
        Assert.Equal([16L, 32], shapes["model.layers.0.self_attn.k_proj.weight"]); // 2 kv heads x 8
        Assert.Equal([16L, 32], shapes["model.layers.0.self_attn.v_proj.weight"]);
        Assert.Equal([32L, 32], shapes["model.layers.1.self_attn.o_proj.weight"]);
        Assert.Equal([64L, 32], shapes["model.layers.1.mlp.gate_proj.weight"]);
        Assert.Equal([64L, 32], shapes["model.layers.1.mlp.up_proj.weight"]);
        Assert.Equal([32L, 64], shapes["model.layers.1.mlp.down_proj.weight"]);
        Assert.Equal([32L], shapes["model.layers.0.input_layernorm.weight"]);
        Assert.Equal([32L], shapes["model.layers.0.post_attention_layernorm.weight"]);
        Assert.Equal([32L], shapes["model.norm.weight"]);
        Assert.Equal([100L, 32], shapes["lm_head.weight"]);
        Assert.DoesNotContain(shapes.Keys, k => k.EndsWith(".bias", StringComparison.Ordinal));
        Assert.Equal(3 + 2 * 9, shapes.Count);
    }

    [Fact]
    public void Qwen2_has_qkv_bias_and_a_tied_head()
    {
        using var model = new LlamaForCausalLM(Config("qwen2-tied-bias"));
        var keys = model.state_dict().Keys.ToHashSet();
        Assert.Contains("model.layers.0.self_attn.q_proj.bias", keys);
        Assert.Contains("model.layers.0.self_attn.k_proj.bias", keys);
        Assert.Contains("model.layers.0.self_attn.v_proj.bias", keys);
        Assert.DoesNotContain("model.layers.0.self_attn.o_proj.bias", keys);
        Assert.DoesNotContain("lm_head.weight", keys);
    }

    [Trait("Category", "Slow")]
    [Theory]
    [MemberData(nameof(Variants))]
    public void Logits_match_the_pytorch_reference_with_left_padding(string variant)
    {
        Requires.Python("torch");
        using var dir = new TempDirectory("tessera-llama-");
        using var scope = NewDisposeScope();
        random.manual_seed(5);
        using var model = new LlamaForCausalLM(Config(variant));
        TinyModels.Randomize(model, 6);
        model.eval();
        model.SavePretrained(dir.Path);
        var (ids, mask) = TinyModels.Inputs(100, 20, seed: 9, 0, 5, 2);
        TinyModels.WriteLongs(dir.File("ids.bin"), ids);
        TinyModels.WriteLongs(dir.File("mask.bin"), mask);

        Tensor logits;
        using (no_grad()) logits = model.forward(ids, mask, useCache: false).Logits;
        TinyModels.RunReference("llama", dir.Path, "3");

        double error = TinyModels.MaxErrorOnTokens(ReferencePython.ReadFloats(dir.File("logits.bin")), logits, mask);
        Assert.True(error <= 1e-4, $"{variant}: max abs error {error:g3} > 1e-4");
    }

    [Theory]
    [InlineData("llama-gqa")]
    [InlineData("qwen2-tied-bias")]
    public void Incremental_decoding_with_the_cache_gives_the_full_sequence_logits(string variant)
    {
        using var scope = NewDisposeScope();
        random.manual_seed(13);
        LlamaConfig config = Config(variant);
        using var model = new LlamaForCausalLM(config);
        TinyModels.Randomize(model, 7);
        model.eval();
        var (ids, mask) = TinyModels.Inputs(100, 12, seed: 2, 3, 0);
        double error = TinyModels.IncrementalVersusFull(model, ids, mask, prefill: 7,
            cache => Assert.Equal([2L, config.KeyValueHeads, 12, 8], cache.Keys(0)!.shape)); // kv heads, not query heads, are cached
        Assert.True(error <= 1e-5);
    }

    [Fact]
    public void A_left_padded_row_gives_the_logits_of_the_row_alone()
    {
        using var scope = NewDisposeScope();
        random.manual_seed(14);
        using var model = new LlamaForCausalLM(TinyModels.Llama());
        TinyModels.Randomize(model, 8);
        model.eval();
        Assert.True(TinyModels.LeftPaddedRowVersusAlone(model) <= 1e-5);
    }

    [Fact]
    public void Unsupported_rope_scaling_is_an_error_naming_the_field()
    {
        var config = TinyModels.Llama() with { RopeScaling = JsonDocument.Parse("""{"rope_type":"yarn","factor":4.0}""").RootElement.Clone() };
        var e = Assert.Throws<ArgumentException>(() => new LlamaForCausalLM(config));
        Assert.Contains("rope_scaling", e.Message);
        Assert.Contains("yarn", e.Message);
    }
}
