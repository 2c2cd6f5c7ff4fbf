using System.Diagnostics;
using System.Text.Json.Nodes;
using Tessera.Formats;
using Tessera.Tests.Shared;

namespace Tessera.Text.Tests;

/// <summary>
/// Regular expressions come from downloaded files; one with catastrophic backtracking must fail fast with an error that
/// names the file and the pattern (before the time limit, <c>(a+)+$</c> on 40 characters ran for minutes).
/// </summary>
public class HostileRegexTests
{
    const string Evil = "(a+)+$";
    static readonly string Prompt = new string('a', 40) + "!";

    static string WriteTokenizer(TempDirectory dir, JsonObject? preTokenizer = null, JsonObject? normalizer = null, JsonObject? decoder = null)
    {
        var json = new JsonObject
        {
            ["normalizer"] = normalizer,
            ["pre_tokenizer"] = preTokenizer,
            ["decoder"] = decoder,
            ["model"] = JsonNode.Parse("""{"type": "BPE", "vocab": {"a": 0, "!": 1, "b": 2}, "merges": []}"""),
        };
        File.WriteAllText(dir.File("tokenizer.json"), json.ToJsonString());
        return dir.Path;
    }

    static JsonObject Pattern(string regex) => new() { ["Regex"] = regex };

    static void AssertFailsFast(Action action, string expectedField)
    {
        var clock = Stopwatch.StartNew();
        var e = Assert.Throws<TesseraFormatException>(action);
        clock.Stop();
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(10), $"took {clock.Elapsed}");
        Assert.Contains("tokenizer.json", e.Message);
        Assert.Contains(expectedField, e.Message);
        Assert.Contains(Evil, e.Message);
        Assert.Contains("catastrophic backtracking", e.Message);
    }

    [Fact]
    public void A_split_pattern_with_catastrophic_backtracking_fails_fast_naming_file_and_pattern()
    {
        using var dir = new TempDirectory();
        var tok = AutoTokenizer.FromPretrained(WriteTokenizer(dir, preTokenizer: new JsonObject
        {
            ["type"] = "Split", ["pattern"] = Pattern(Evil), ["behavior"] = "Isolated", ["invert"] = false,
        }));
        AssertFailsFast(() => tok.Encode(Prompt), "Split pre_tokenizer pattern");
    }

    [Fact]
    public void A_replace_normalizer_with_catastrophic_backtracking_fails_fast()
    {
        using var dir = new TempDirectory();
        var tok = AutoTokenizer.FromPretrained(WriteTokenizer(dir, normalizer: new JsonObject
        {
            ["type"] = "Replace", ["pattern"] = Pattern(Evil), ["content"] = "b",
        }));
        AssertFailsFast(() => tok.Encode(Prompt), "Replace normalizer pattern");
    }

    [Fact]
    public void A_replace_decoder_with_catastrophic_backtracking_fails_fast()
    {
        using var dir = new TempDirectory();
        var tok = AutoTokenizer.FromPretrained(WriteTokenizer(dir, decoder: new JsonObject
        {
            // Fuse first, so the pattern sees the whole text rather than one-character tokens.
            ["type"] = "Sequence",
            ["decoders"] = new JsonArray(new JsonObject { ["type"] = "Fuse" }, new JsonObject { ["type"] = "Replace", ["pattern"] = Pattern(Evil), ["content"] = "b" }),
        }));
        int a = tok.Encode("a", addSpecialTokens: false).Ids[0];
        AssertFailsFast(() => tok.Decode([.. Enumerable.Repeat(a, 40), tok.Encode("!", addSpecialTokens: false).Ids[0]]), "Replace decoder pattern");
    }

    [Fact]
    public void An_invalid_replace_pattern_is_a_format_error_at_load()
    {
        using var dir = new TempDirectory();
        string folder = WriteTokenizer(dir, normalizer: new JsonObject { ["type"] = "Replace", ["pattern"] = Pattern("(unclosed"), ["content"] = "" });
        var e = Assert.Throws<TesseraFormatException>(() => AutoTokenizer.FromPretrained(folder));
        Assert.Contains("tokenizer.json", e.Message);
        Assert.Contains("(unclosed", e.Message);
    }

    [Fact]
    public void Ordinary_patterns_still_tokenize()
    {
        using var dir = new TempDirectory();
        var tok = AutoTokenizer.FromPretrained(WriteTokenizer(dir, preTokenizer: new JsonObject
        {
            ["type"] = "Split", ["pattern"] = Pattern("a+"), ["behavior"] = "Isolated", ["invert"] = false,
        }));
        Assert.Equal(Prompt.Length, tok.Encode(Prompt, addSpecialTokens: false).Ids.Count);
    }
}
