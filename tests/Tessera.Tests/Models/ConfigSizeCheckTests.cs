using System.Text.Json.Nodes;
using Tessera.Adapters;
using Tessera.Formats;
using Tessera.Models;
using Tessera.Tests.Shared;
using Tessera.Tests.Transformers;
using Tessera.Transformers;

namespace Tessera.Tests.Models;

/// <summary>
/// A config.json that asks for far more than its weights hold is refused from the safetensors header, before any parameter
/// is allocated (without the check these cases try to allocate 0.1-4 TB and abort the process).
/// </summary>
public class ConfigSizeCheckTests : IDisposable
{
    readonly TempDirectory dir = new("tessera-sizes-");
    public void Dispose() => dir.Dispose();

    void Edit(string file, Action<JsonObject> edit)
    {
        var json = JsonNode.Parse(File.ReadAllText(dir.File(file)))!.AsObject();
        edit(json);
        File.WriteAllText(dir.File(file), json.ToJsonString());
    }

    [Theory]
    [InlineData("vocab_size", 1_000_000_000, "vocab_size 1000000000 does not match model.safetensors (transformer.wte.weight is [100, 32], not [1000000000, 32])")]
    [InlineData("n_positions", 1_000_000_000, "n_positions 1000000000 does not match model.safetensors (transformer.wpe.weight is [32, 32], not [1000000000, 32])")]
    [InlineData("n_embd", 4096, "n_embd 4096 does not match model.safetensors (transformer.wte.weight is [100, 32], not [100, 4096])")]
    [InlineData("n_layer", 1_000_000, "n_layer 1000000 does not match model.safetensors (it has 2 layer(s), h.0 to h.1)")]
    [InlineData("n_inner", 1_000_000_000, "n_inner 1000000000 does not match model.safetensors (transformer.h.0.mlp.c_fc.weight is [32, 128], not [32, 1000000000])")]
    public void A_gpt2_config_larger_than_its_checkpoint_names_the_field(string field, int value, string expected)
    {
        using (var model = new Gpt2LMHeadModel(TinyModels.Gpt2())) model.SavePretrained(dir.Path);
        Edit("config.json", json => json[field] = value);
        var e = Assert.Throws<TesseraFormatException>(() => AutoModelForCausalLM.FromPretrained(dir.Path));
        Assert.Equal($"{dir.File("config.json")}: {expected}", e.Message);
    }

    [Fact]
    public void A_llama_config_with_a_billion_rows_is_refused_before_allocation()
    {
        using (var model = new LlamaForCausalLM(TinyModels.Llama())) model.SavePretrained(dir.Path);
        Edit("config.json", json => json["intermediate_size"] = 1_000_000_000);
        var e = Assert.Throws<TesseraFormatException>(() => AutoModelForCausalLM.FromPretrained(dir.Path));
        Assert.EndsWith("intermediate_size 1000000000 does not match model.safetensors (model.layers.0.mlp.gate_proj.weight is [64, 32], not [1000000000, 32])", e.Message);
    }

    [Fact]
    public void Cnn_and_mlp_configs_larger_than_their_checkpoints_name_the_field()
    {
        using (var cnn = new Cnn(new CnnConfig { Hidden = 8 })) cnn.SavePretrained(dir.Path);
        Edit("config.json", json => json["hidden"] = 1_000_000_000);
        var e = Assert.Throws<TesseraFormatException>(() => AutoModelForImageClassification.FromPretrained(dir.Path));
        Assert.EndsWith("config.json: hidden 1000000000 does not match model.safetensors (fc1.weight is [8, 3136], not [1000000000, 3136])", e.Message);

        Edit("config.json", json => { json["hidden"] = 8; json["image_size"] = 112; });
        e = Assert.Throws<TesseraFormatException>(() => AutoModelForImageClassification.FromPretrained(dir.Path));
        Assert.EndsWith("config.json: image_size 112 does not match model.safetensors (fc1.weight is [8, 3136], not [8, 50176])", e.Message);

        // 65536 would overflow fc1's input features (an int): refused by the config itself.
        Edit("config.json", json => json["image_size"] = 65536);
        e = Assert.Throws<TesseraFormatException>(() => AutoModelForImageClassification.FromPretrained(dir.Path));
        Assert.Contains("\"image_size\": 65536 is too large", e.Message);

        using var mlpDir = new TempDirectory("tessera-sizes-mlp-");
        using (var mlp = new Mlp(new MlpConfig { InputSize = 16, HiddenSizes = [8], NumClasses = 3 })) mlp.SavePretrained(mlpDir.Path);
        var json = JsonNode.Parse(File.ReadAllText(mlpDir.File("config.json")))!.AsObject();
        json["hidden_sizes"] = new JsonArray(8, 1_000_000_000, 1_000_000_000);
        File.WriteAllText(mlpDir.File("config.json"), json.ToJsonString());
        e = Assert.Throws<TesseraFormatException>(() => AutoModelForImageClassification.FromPretrained(mlpDir.Path));
        Assert.Contains("does not match model.safetensors", e.Message);
        Assert.Contains("hidden_sizes", e.Message);
    }

    [Fact]
    public void A_config_with_more_layers_than_the_file_may_load_with_fresh_layers_when_missing_keys_are_allowed_but_not_huge_ones()
    {
        using (var model = new Gpt2LMHeadModel(TinyModels.Gpt2())) model.SavePretrained(dir.Path);
        Edit("config.json", json => json["n_layer"] = 3);
        using (var grown = AutoModelForCausalLM.FromPretrained(dir.Path, new FromPretrainedOptions { AllowMissingKeys = true }))
            Assert.Equal(3, grown.NumLayers);

        Edit("config.json", json => json["n_layer"] = 1_000_000);
        var e = Assert.Throws<TesseraFormatException>(() => AutoModelForCausalLM.FromPretrained(dir.Path, new FromPretrainedOptions { AllowMissingKeys = true }));
        Assert.Contains("config.json: describes a model of 12,", e.Message);
        Assert.Contains("parameters but model.safetensors holds", e.Message);
    }

    [Fact]
    public void A_config_built_without_weights_that_exceeds_memory_is_refused()
    {
        var huge = TinyModels.Gpt2() with { VocabSize = 2_000_000_000, NEmbd = 4096, NHead = 32 };
        var e = Assert.Throws<TesseraFormatException>(() => ModelRegistry.Create(ModelTasks.CausalLM, huge, "big/config.json"));
        Assert.StartsWith("big/config.json: describes a model of ", e.Message);
        Assert.Contains("GB as float32), more than the ", e.Message);
    }

    [Fact]
    public void An_adapter_rank_that_does_not_match_its_weights_is_refused_before_wrapping()
    {
        string adapter = Path.Combine(dir.Path, "adapter");
        using (var model = new Gpt2LMHeadModel(TinyModels.Gpt2()))
        {
            var peft = LoraModel.Wrap(model, new LoraConfig(R: 4, TargetModules: ["c_attn"]));
            peft.SavePretrained(adapter);
        }
        var json = JsonNode.Parse(File.ReadAllText(Path.Combine(adapter, "adapter_config.json")))!.AsObject();
        json["r"] = 1_000_000_000;
        File.WriteAllText(Path.Combine(adapter, "adapter_config.json"), json.ToJsonString());

        using var fresh = new Gpt2LMHeadModel(TinyModels.Gpt2());
        var e = Assert.Throws<TesseraFormatException>(() => LoraModel.FromPretrained(fresh, adapter));
        Assert.Equal($"{Path.Combine(adapter, "adapter_config.json")}: r 1000000000 does not match adapter_model.safetensors (base_model.model.transformer.h.0.attn.c_attn.lora_A.weight is [4, 32])", e.Message);
        Assert.DoesNotContain(fresh.named_modules(), m => m.name.Contains("lora", StringComparison.Ordinal));
    }
}
