using System.Diagnostics;
using System.Text.Json.Nodes;
using Tessera.Adapters;
using Tessera.Formats;
using Tessera.Tests.Shared;
using static Tessera.Tests.Adapters.LoraTestModels;

namespace Tessera.Tests.Adapters;

/// <summary>A <c>target_modules</c> regex from a downloaded adapter_config.json must not hang loading (it did, with no user input at all).</summary>
public class AdapterRegexTests
{
    [Fact]
    public void A_target_modules_regex_with_catastrophic_backtracking_fails_fast_naming_the_file_and_pattern()
    {
        const string evil = "([a-z._0-9]+)+X";
        using var dir = new TempDirectory("tessera-lora-regex-");
        using (var llama = Llama(31))
            LoraModel.Wrap(llama, new LoraConfig(R: 2, Alpha: 4, TargetModules: ["q_proj"])).SavePretrained(dir.Path);
        string configPath = Path.Combine(dir.Path, LoraConfig.FileName);
        var json = JsonNode.Parse(File.ReadAllText(configPath))!.AsObject();
        json["target_modules"] = evil;
        File.WriteAllText(configPath, json.ToJsonString());

        using var fresh = Llama(31);
        var clock = Stopwatch.StartNew();
        var e = Assert.Throws<TesseraFormatException>(() => LoraModel.FromPretrained(fresh, dir.Path));
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(10), $"took {clock.Elapsed}");
        Assert.Contains("adapter_config.json", e.Message);
        Assert.Contains("target_modules", e.Message);
        Assert.Contains(evil, e.Message);
    }

    [Fact]
    public void An_invalid_target_modules_regex_is_named_when_the_config_is_read()
    {
        var e = Assert.Throws<TesseraFormatException>(() => LoraConfig.Parse("""{"peft_type": "LORA", "r": 2, "target_modules": "q_proj|(v"}""", "x/adapter_config.json"));
        Assert.Contains("x/adapter_config.json", e.Message);
        Assert.Contains("q_proj|(v", e.Message);
    }
}
