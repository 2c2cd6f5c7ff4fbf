using Tessera.Formats;
using Tessera.Tests.Shared;
using Tessera.Text.Generation;

namespace Tessera.Text.Tests.Generation;

public class GenerationConfigTests
{
    [Fact]
    public void Reads_hf_generation_config_and_keeps_unknown_fields()
    {
        using var temp = new TempDirectory("tessera-genconfig-");
        File.WriteAllText(Path.Combine(temp.Path, "generation_config.json"), """
            {
              "_from_model_config": true,
              "bos_token_id": 128000,
              "do_sample": true,
              "eos_token_id": [128001, 128008, 128009],
              "temperature": 0.6,
              "top_p": 0.9,
              "transformers_version": "4.45.0"
            }
            """);
        var config = GenerationConfig.Load(temp.Path);
        Assert.True(config.DoSample);
        Assert.Equal(0.6, config.Temperature);
        Assert.Equal(0.9, config.TopP);
        Assert.Equal(50, config.TopK);
        Assert.Equal([128001, 128008, 128009], config.EosTokenIds);
        Assert.Equal(128001, config.EffectivePadTokenId);
        Assert.Equal(128000, config.BosTokenId);
        Assert.Equal(20, config.NewTokenBudget(7));

        var overridden = config with { Temperature = 1.2, Seed = 3 };
        overridden.Save(temp.Path);
        string json = File.ReadAllText(Path.Combine(temp.Path, "generation_config.json"));
        Assert.Contains("\"transformers_version\": \"4.45.0\"", json);
        Assert.Contains("\"_from_model_config\": true", json);
        var back = GenerationConfig.Load(temp.Path);
        Assert.Equal(1.2, back.Temperature);
        Assert.Equal(3, back.Seed);
        Assert.Equal(config.EosTokenIds, back.EosTokenIds);
    }

    [Fact]
    public void Without_the_file_token_ids_come_from_config_json()
    {
        using var temp = new TempDirectory("tessera-genconfig-");
        Assert.Equal(new GenerationConfig().ToJson(), GenerationConfig.Load(temp.Path).ToJson());
        File.WriteAllText(Path.Combine(temp.Path, "config.json"), """{"model_type": "gpt2", "bos_token_id": 50256, "eos_token_id": 50256}""");
        var config = GenerationConfig.Load(temp.Path);
        Assert.Equal([50256], config.EosTokenIds);
        Assert.Equal(50256, config.BosTokenId);
        Assert.False(config.DoSample);
    }

    [Fact]
    public void Budget_prefers_max_new_tokens_then_max_length()
    {
        Assert.Equal(5, new GenerationConfig { MaxNewTokens = 5, MaxLength = 100 }.NewTokenBudget(10));
        Assert.Equal(90, new GenerationConfig { MaxLength = 100 }.NewTokenBudget(10));
        Assert.Equal(0, new GenerationConfig { MaxLength = 5 }.NewTokenBudget(10));
        Assert.Equal([7, 8], new GenerationConfig().WithEosTokenIds(7, 8).EosTokenIds);
        Assert.Equal([7], new GenerationConfig().WithEosTokenIds(7).EosTokenIds);
    }

    [Theory]
    [InlineData("""{"temperature": 0}""", "temperature")]
    [InlineData("""{"top_p": 1.5}""", "top_p")]
    [InlineData("""{"top_k": -1}""", "top_k")]
    [InlineData("""{"eos_token_id": "x"}""", "eos_token_id")]
    [InlineData("""{"max_new_tokens": "many"}""", "max_new_tokens")]
    public void Invalid_values_name_the_file_and_field(string json, string field)
    {
        var e = Assert.Throws<TesseraFormatException>(() => GenerationConfig.Parse(json, "gen.json"));
        Assert.Contains("gen.json", e.Message);
        Assert.Contains(field, e.Message);
    }
}
