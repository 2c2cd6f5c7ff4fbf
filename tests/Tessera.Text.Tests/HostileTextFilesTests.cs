using System.Text.Json.Nodes;
using Tessera.Formats;
using Tessera.Tests.Shared;
using Tessera.Text.Generation;

namespace Tessera.Text.Tests;

/// <summary>Malformed tokenizer.json and generation_config.json files are named errors, never crashes.</summary>
public class HostileTextFilesTests
{
    static JsonObject MinimalTokenizer() => new()
    {
        ["model"] = JsonNode.Parse("""{"type": "BPE", "vocab": {"a": 0, "b": 1}, "merges": []}"""),
    };

    static TesseraFormatException LoadFails(JsonObject json)
    {
        using var dir = new TempDirectory();
        File.WriteAllText(dir.File("tokenizer.json"), json.ToJsonString());
        var e = Assert.Throws<TesseraFormatException>(() => AutoTokenizer.FromPretrained(dir.Path));
        Assert.Contains("tokenizer.json", e.Message);
        return e;
    }

    [Theory]
    [InlineData("""[{"content": "<x>", "special": true}]""", "'id'")]
    [InlineData("""[{"id": 5, "special": true}]""", "'content'")]
    [InlineData("""[{"id": "five", "content": "<x>"}]""", "'id'")]
    [InlineData("""[{"id": -3, "content": "<x>"}]""", "negative")]
    [InlineData("""{"id": 5}""", "added_tokens")]
    public void Bad_added_tokens_are_named(string addedTokens, string expected)
    {
        var json = MinimalTokenizer();
        json["added_tokens"] = JsonNode.Parse(addedTokens);
        Assert.Contains(expected, LoadFails(json).Message);
    }

    [Theory]
    [InlineData("normalizer", "normalizers")]
    [InlineData("pre_tokenizer", "pretokenizers")]
    [InlineData("decoder", "decoders")]
    [InlineData("post_processor", "processors")]
    public void A_sequence_without_its_list_is_named(string component, string list)
    {
        var json = MinimalTokenizer();
        json[component] = new JsonObject { ["type"] = "Sequence" };
        Assert.Contains($"'{list}'", LoadFails(json).Message);
    }

    [Fact]
    public void A_field_of_the_wrong_json_type_is_a_format_error()
    {
        var json = MinimalTokenizer();
        json["post_processor"] = JsonNode.Parse("""{"type": "BertProcessing", "cls": ["[CLS]", "zero"], "sep": ["[SEP]", 1]}""");
        LoadFails(json);
    }

    [Theory]
    [InlineData("""{"eos_token_id": 2.5}""", "eos_token_id")]
    [InlineData("""{"eos_token_id": [1, 2.5]}""", "eos_token_id")]
    [InlineData("""{"eos_token_id": -1}""", "eos_token_id")]
    [InlineData("""{"pad_token_id": -7}""", "pad_token_id")]
    public void Bad_token_ids_in_generation_config_are_named(string json, string field)
    {
        using var dir = new TempDirectory();
        File.WriteAllText(dir.File("generation_config.json"), json);
        var e = Assert.Throws<TesseraFormatException>(() => GenerationConfig.Load(dir.Path));
        Assert.Contains("generation_config.json", e.Message);
        Assert.Contains(field, e.Message);
    }

    [Fact]
    public void Bad_token_ids_in_config_json_are_named_when_there_is_no_generation_config()
    {
        using var dir = new TempDirectory();
        File.WriteAllText(dir.File("config.json"), """{"model_type": "gpt2", "eos_token_id": 2.5}""");
        var e = Assert.Throws<TesseraFormatException>(() => GenerationConfig.Load(dir.Path));
        Assert.Contains("config.json", e.Message);
        Assert.Contains("eos_token_id", e.Message);
    }
}
