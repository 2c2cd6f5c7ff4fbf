using System.Text.Json;
using System.Text.Json.Nodes;
using Tessera.Formats;
using Tessera.Tests.Shared;
using Tessera.Transformers;

namespace Tessera.Tests.Transformers;

public class PretrainedConfigTests
{
    const string Gpt2Json = """
        {
          "activation_function": "gelu_new",
          "architectures": ["GPT2LMHeadModel"],
          "attn_pdrop": 0.1, "bos_token_id": 50256, "embd_pdrop": 0.1, "eos_token_id": 50256,
          "initializer_range": 0.02, "layer_norm_epsilon": 1e-05, "model_type": "gpt2",
          "n_ctx": 1024, "n_embd": 768, "n_head": 12, "n_layer": 12, "n_positions": 1024,
          "resid_pdrop": 0.1, "summary_type": "cls_index", "summary_use_proj": true,
          "task_specific_params": {"text-generation": {"do_sample": true, "max_length": 50}},
          "vocab_size": 50257
        }
        """;

    [Fact]
    public void Reads_a_gpt2_hub_config_and_keeps_unknown_fields_on_round_trip()
    {
        using var dir = new TempDirectory("tessera-config-");
        File.WriteAllText(dir.File("config.json"), Gpt2Json);
        var config = Assert.IsType<Gpt2Config>(AutoConfig.FromPretrained(dir.Path));
        Assert.Equal(768, config.NEmbd);
        Assert.Equal(3072, config.InnerSize);
        Assert.Equal([50256], config.EosTokenIds);
        Assert.Equal(["GPT2LMHeadModel"], config.Architectures!);
        Assert.True(config.ExtensionData!.ContainsKey("task_specific_params"));

        config.Save(dir.File("again.json"));
        var original = JsonNode.Parse(Gpt2Json)!.AsObject();
        var written = JsonNode.Parse(File.ReadAllText(dir.File("again.json")))!.AsObject();
        foreach (var (key, value) in original)
            Assert.True(JsonNode.DeepEquals(value, written[key]), $"field {key} changed: {value?.ToJsonString()} -> {written[key]?.ToJsonString()}");
    }

    [Theory]
    [InlineData("gpt2", "n_embd")]
    [InlineData("llama", "num_attention_heads")]
    [InlineData("qwen2", "intermediate_size")]
    [InlineData("bert", "vocab_size")]
    public void A_missing_required_field_names_the_file_and_the_field(string modelType, string field)
    {
        using var dir = new TempDirectory("tessera-config-");
        PretrainedConfig full = modelType switch
        {
            "gpt2" => TinyModels.Gpt2(),
            "bert" => TinyModels.Bert(),
            _ => TinyModels.Llama() with { ModelType = modelType },
        };
        var json = JsonNode.Parse(full.ToJson())!.AsObject();
        Assert.True(json.Remove(field));
        string path = dir.File("config.json");
        File.WriteAllText(path, json.ToJsonString());
        var e = Assert.Throws<TesseraFormatException>(() => PretrainedConfig.Load(path));
        Assert.Contains(path, e.Message);
        Assert.Contains($"\"{field}\"", e.Message);
        Assert.Equal(path, e.FilePath);
    }

    [Fact]
    public void An_unknown_model_type_lists_the_supported_ones()
    {
        var e = Assert.Throws<TesseraFormatException>(() => PretrainedConfig.Parse("""{"model_type": "t5"}""", "x/config.json"));
        Assert.Contains("\"t5\"", e.Message);
        Assert.Contains("gpt2, llama, qwen2, mistral, bert, cnn, mlp, resnet", e.Message); // the built-ins, registered first
    }

    [Fact]
    public void An_invalid_value_names_the_field()
    {
        string json = TinyModels.Llama().ToJson().Replace("\"num_key_value_heads\": 2", "\"num_key_value_heads\": 3");
        var e = Assert.Throws<TesseraFormatException>(() => PretrainedConfig.Parse(json, "c.json"));
        Assert.Contains("num_key_value_heads", e.Message);
    }

    [Fact]
    public void Llama_family_defaults_follow_transformers()
    {
        var config = (LlamaConfig)PretrainedConfig.Parse("""
            {"model_type":"qwen2","vocab_size":10,"hidden_size":8,"intermediate_size":16,"num_hidden_layers":1,
             "num_attention_heads":2,"use_sliding_window":false,"sliding_window":4096,"max_window_layers":21}
            """);
        Assert.Equal(2, config.KeyValueHeads);
        Assert.Equal(4, config.HeadDim);
        Assert.False(config.TieWordEmbeddings);
        Assert.True(config.QkvBias);
        Assert.False(config.OutputBias);
        Assert.Null(config.EffectiveSlidingWindow);
        Assert.Equal(10000.0, config.RopeTheta);
        Assert.True(config.ExtensionData!.ContainsKey("max_window_layers"));
    }

    [Fact]
    public void Auto_model_for_causal_lm_refuses_an_encoder()
    {
        using var dir = new TempDirectory("tessera-config-");
        using (var bert = new BertModel(TinyModels.Bert())) bert.SavePretrained(dir.Path);
        var e = Assert.Throws<TesseraFormatException>(() => AutoModelForCausalLM.FromPretrained(dir.Path));
        Assert.Contains("\"bert\"", e.Message);
        Assert.Contains("gpt2, llama, qwen2, mistral", e.Message);
        using var masked = AutoModelForMaskedLM.FromPretrained(dir.Path, new FromPretrainedOptions { AllowMissingKeys = true });
        Assert.IsType<BertModel>(AutoModel.FromPretrained(dir.Path));
    }
}
