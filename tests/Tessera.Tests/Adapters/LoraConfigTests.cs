using System.Text.Json;
using Tessera.Adapters;
using Tessera.Formats;

namespace Tessera.Tests.Adapters;

public class LoraConfigTests
{
    [Fact]
    public void Config_round_trips_with_unknown_fields_and_regex_targets()
    {
        string json = """
            {"peft_type": "LORA", "r": 16, "lora_alpha": 32.5, "lora_dropout": 0.05, "target_modules": ".*\\.(q|v)_proj",
             "modules_to_save": ["score"], "bias": "none", "fan_in_fan_out": false, "use_rslora": true, "init_lora_weights": true,
             "base_model_name_or_path": "meta-llama/Llama-2-7b-hf", "task_type": "CAUSAL_LM", "inference_mode": true,
             "layers_to_transform": null, "rank_pattern": {}, "auto_mapping": null, "use_dora": false}
            """;
        LoraConfig config = LoraConfig.Parse(json);
        Assert.Equal(16, config.R);
        Assert.Equal(32.5, config.Alpha);
        Assert.Equal(@".*\.(q|v)_proj", config.TargetModulesRegex);
        Assert.Null(config.TargetModules);
        Assert.Equal(["score"], config.ModulesToSave!);
        Assert.True(config.UseRslora);
        Assert.Equal(32.5 / 4, config.Scaling);
        Assert.True(config.ExtensionData.ContainsKey("use_dora"));
        LoraConfig again = LoraConfig.Parse(config.ToJson());
        Assert.Equal(config.ToJson(), again.ToJson());
        using var doc = JsonDocument.Parse(again.ToJson());
        Assert.Equal(JsonValueKind.Object, doc.RootElement.GetProperty("rank_pattern").ValueKind);

        Assert.Throws<TesseraFormatException>(() => LoraConfig.Parse("""{"peft_type": "IA3", "r": 8}"""));
        Assert.Throws<TesseraFormatException>(() => LoraConfig.Parse("""{"peft_type": "LORA", "r": "8"}"""));
    }

    [Fact]
    public void Validation_rejects_bad_values_with_clear_messages()
    {
        Assert.Contains("rank r must be a positive integer", Assert.Throws<ArgumentException>(() => new LoraConfig(0, 8, ["q_proj"]).Validate()).Message);
        Assert.Contains("lora_alpha must be a positive number", Assert.Throws<ArgumentException>(() => new LoraConfig(8, double.NaN, ["q_proj"]).Validate()).Message);
        Assert.Contains("lora_dropout", Assert.Throws<ArgumentException>(() => new LoraConfig(8, 8, ["q_proj"]) { Dropout = 1 }.Validate()).Message);
        Assert.Contains("target_modules is empty", Assert.Throws<ArgumentException>(() => new LoraConfig(8, 8).Validate()).Message);
        Assert.Throws<NotSupportedException>(() => new LoraConfig(8, 8, ["q_proj"]) { Bias = "all" }.Validate());
    }

    [Fact]
    public void Defaults_are_peft_defaults()
    {
        var config = new LoraConfig(TargetModules: ["q_proj"]);
        using var doc = JsonDocument.Parse(config.ToJson());
        JsonElement root = doc.RootElement;
        Assert.Equal(8, root.GetProperty("r").GetInt32());
        Assert.Equal(8, root.GetProperty("lora_alpha").GetInt32());
        Assert.Equal("none", root.GetProperty("bias").GetString());
        Assert.True(root.GetProperty("init_lora_weights").GetBoolean());
        Assert.False(root.GetProperty("fan_in_fan_out").GetBoolean());
        Assert.Equal(JsonValueKind.Null, root.GetProperty("modules_to_save").ValueKind);
        Assert.Equal(1.0, config.Scaling);
    }

    [Fact]
    public void Reads_a_config_with_every_field_peft_writes()
    {
        // Hand-written in the layout PEFT 0.1x saves (all dataclass fields, sorted); PEFT itself is not installed here.
        LoraConfig config = LoraConfig.Load(Path.Combine(AppContext.BaseDirectory, "Adapters", "Fixtures", "adapter_config.peft-style.json"));
        config.Validate();
        Assert.Equal(4, config.R);
        Assert.Equal(16, config.Alpha);
        Assert.Equal(0.05, config.Dropout);
        Assert.Equal(["v_proj", "q_proj"], config.TargetModules!);
        Assert.Equal("CAUSAL_LM", config.TaskType);
        Assert.True(config.InferenceMode);
        Assert.Contains("megatron_core", config.ExtensionData.Keys);
        Assert.Contains("\"megatron_core\": \"megatron.core\"", config.ToJson(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("use_dora", "true")]
    [InlineData("rank_pattern", "{\"q_proj\": 8}")]
    [InlineData("alpha_pattern", "{\"q_proj\": 8}")]
    [InlineData("layers_to_transform", "[0, 1]")]
    public void Fields_that_change_the_math_are_refused(string field, string value)
    {
        LoraConfig config = LoraConfig.Parse($$"""{"peft_type": "LORA", "r": 4, "lora_alpha": 8, "target_modules": ["q_proj"], "{{field}}": {{value}}}""");
        Assert.Contains(field, Assert.Throws<NotSupportedException>(config.Validate).Message, StringComparison.Ordinal);
    }
}
