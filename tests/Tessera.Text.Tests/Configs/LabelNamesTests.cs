using Tessera.Formats;
using Tessera.Transformers;

namespace Tessera.Text.Tests.Configs;

public class LabelNamesTests
{
    [Fact]
    public void Names_come_back_ordered_by_index_whatever_the_key_order()
    {
        var map = new Dictionary<string, string> { ["2"] = "bird", ["0"] = "cat", ["1"] = "dog" };
        Assert.Equal(["cat", "dog", "bird"], LabelNames.FromId2Label(map));
        Assert.Equal(map.OrderBy(kv => kv.Key), LabelNames.ToId2Label(["cat", "dog", "bird"]).OrderBy(kv => kv.Key));
        Assert.Equal(1, LabelNames.ToLabel2Id(["cat", "dog", "bird"])["dog"]);
    }

    [Theory]
    [InlineData("""{"0": "a", "2": "c"}""", "key \"2\"")]        // a gap: class 1 would have no name
    [InlineData("""{"0": "a", "00": "b"}""", "key \"00\"")]      // two spellings of index 0
    [InlineData("""{"0": "a", "x": "b"}""", "key \"x\"")]
    [InlineData("""{"0": "a", "-1": "b"}""", "key \"-1\"")]
    [InlineData("""{"0": "a", " 1": "b"}""", "key \" 1\"")]
    [InlineData("""{"1": "b"}""", "key \"1\"")]
    public void A_map_that_is_not_exactly_the_indices_0_to_n_minus_1_is_an_error_naming_the_key(string id2label, string expected)
    {
        var map = System.Text.Json.JsonSerializer.Deserialize<Dictionary<string, string>>(id2label)!;
        var e = Assert.Throws<ArgumentException>(() => LabelNames.FromId2Label(map));
        Assert.Contains("id2label", e.Message);
        Assert.Contains(expected, e.Message);
    }

    [Fact]
    public void Every_config_json_is_held_to_the_rule_with_the_file_named()
    {
        const string json = """{"model_type": "cnn", "id2label": {"0": "T-shirt", "2": "Pullover"}}""";
        var e = Assert.Throws<TesseraFormatException>(() => PretrainedConfig.Parse(json, "m/config.json"));
        Assert.Equal("m/config.json", e.FilePath);
        Assert.Contains("id2label", e.Message);

        string bert = """{"model_type": "bert", "vocab_size": 10, "hidden_size": 4, "num_hidden_layers": 1, "num_attention_heads": 1, "intermediate_size": 8, "id2label": {"1": "pos"}}""";
        Assert.Throws<TesseraFormatException>(() => PretrainedConfig.Parse(bert, "b/config.json"));
        var ok = (BertConfig)PretrainedConfig.Parse(bert.Replace("\"1\": \"pos\"", "\"1\": \"pos\", \"0\": \"neg\""), "b/config.json");
        Assert.Equal(["neg", "pos"], ok.Labels);
        Assert.Equal(2, ok.NumLabels);
    }

    [Fact]
    public void WithLabels_writes_both_maps_and_keeps_the_record_type()
    {
        var config = new Tessera.Models.CnnConfig { NumClasses = 2 }.WithLabels(["no", "yes"]);
        Assert.IsType<Tessera.Models.CnnConfig>(config);
        Assert.Equal(["no", "yes"], config.Labels);
        Assert.Equal(new Dictionary<string, int> { ["no"] = 0, ["yes"] = 1 }, config.Label2Id);
        Assert.Equal(config, PretrainedConfig.Parse(config.ToJson()));
    }
}
