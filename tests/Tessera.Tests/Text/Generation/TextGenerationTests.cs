using Tessera.Text;
using Tessera.Text.Generation;
using Tessera.Transformers;

namespace Tessera.Tests.Text.Generation;

public class TextGenerationTests
{
    static readonly GenerationConfig Greedy = new() { MaxNewTokens = 12 };

    static List<string> Stream(CausalLanguageModel model, HfTokenizer tok, string prompt, GenerationConfig config)
    {
        var pieces = new List<string>();
        var task = Task.Run(async () =>
        {
            await foreach (string piece in model.GenerateStream(tok, prompt, config)) pieces.Add(piece);
        });
        task.GetAwaiter().GetResult();
        return pieces;
    }

    [Fact]
    public void Greedy_gpt2_gives_the_same_tokens_with_and_without_the_kv_cache()
    {
        using var model = GenerationFixtures.TinyGpt2();
        var tok = GenerationFixtures.Gpt2Tokenizer;
        var cached = model.Generate(tok, "The quick brown fox", Greedy);
        var uncached = model.Generate(tok, "The quick brown fox", Greedy with { UseCache = false });
        Assert.Equal(12, cached.TokenIds.Count);
        Assert.Equal(cached.TokenIds, uncached.TokenIds);
        Assert.Equal(cached.Text, uncached.Text);
        Assert.Equal(FinishReason.Length, cached.FinishReason);
        Assert.Equal(tok.Encode("The quick brown fox").Ids, cached.PromptIds);
    }

    [Fact]
    public void Greedy_llama_gives_the_same_tokens_with_and_without_the_kv_cache()
    {
        using var model = GenerationFixtures.TinyLlama();
        var tok = GenerationFixtures.SentencePieceTokenizer;
        var config = Greedy with { EosTokenId = null, RepetitionPenalty = 1.3 };
        var cached = model.Generate(tok, "You will", config);
        var uncached = model.Generate(tok, "You will", config with { UseCache = false });
        Assert.NotEmpty(cached.TokenIds);
        Assert.Equal(cached.TokenIds, uncached.TokenIds);
        Assert.Equal(1, cached.PromptIds[0]); // <s>
    }

    [Theory]
    [InlineData("gpt2")]
    [InlineData("llama")]
    public void Batched_left_padded_generation_equals_each_prompt_alone(string architecture)
    {
        using CausalLanguageModel model = architecture == "gpt2" ? GenerationFixtures.TinyGpt2(2) : GenerationFixtures.TinyLlama(2);
        var tok = architecture == "gpt2" ? GenerationFixtures.Gpt2Tokenizer : GenerationFixtures.SentencePieceTokenizer;
        string[] prompts = ["Hi", "A much longer prompt than the first one is", "Medium sized prompt"];
        var config = Greedy with { MaxNewTokens = 8 };
        var batch = model.Generate(tok, prompts, config);
        Assert.Equal(3, batch.Count);
        for (int i = 0; i < prompts.Length; i++)
        {
            var alone = model.Generate(tok, prompts[i], config);
            Assert.Equal(alone.TokenIds, batch[i].TokenIds);
            Assert.Equal(alone.Text, batch[i].Text);
        }
    }

    [Fact]
    public void Seeded_sampling_is_reproducible_and_seeds_differ()
    {
        using var model = GenerationFixtures.TinyGpt2();
        var tok = GenerationFixtures.Gpt2Tokenizer;
        var config = new GenerationConfig { MaxNewTokens = 10, DoSample = true, TopK = 0, Temperature = 1.5, Seed = 7 };
        var a = model.Generate(tok, "Once upon a time", config);
        var b = model.Generate(tok, "Once upon a time", config);
        var c = model.Generate(tok, "Once upon a time", config with { Seed = 8 });
        Assert.Equal(a.TokenIds, b.TokenIds);
        Assert.NotEqual(a.TokenIds, c.TokenIds);
        // All warpers at once still sample reproducibly, with and without the cache.
        var warped = config with { TopK = 40, TopP = 0.9, Temperature = 0.8, RepetitionPenalty = 1.2 };
        Assert.Equal(model.Generate(tok, "Once", warped).TokenIds, model.Generate(tok, "Once", warped with { UseCache = false }).TokenIds);
    }

    [Fact]
    public void Eos_stops_its_row_while_the_others_go_on()
    {
        var tok = GenerationFixtures.Gpt2Tokenizer;
        int eos = tok.EosTokenId!.Value;
        int[] p0 = [.. tok.Encode("One").Ids], p1 = [.. tok.Encode("Two words").Ids];
        int[] s0 = [.. tok.Encode(" a b").Ids, eos, .. tok.Encode(" never").Ids];
        int[] s1 = [.. tok.Encode(" c d e f g").Ids];
        using var model = new ScriptedModel(tok.VocabSize, [p0.Length, p1.Length], [s0, s1], fallback: eos);
        var results = model.Generate(tok, ["One", "Two words"], new GenerationConfig { MaxNewTokens = 10 });
        Assert.Equal(" a b", results[0].Text);
        Assert.Equal(FinishReason.EndOfSequence, results[0].FinishReason);
        Assert.Equal(eos, results[0].TokenIds[^1]);
        Assert.Equal(" c d e f g", results[1].Text);
        Assert.Equal(FinishReason.EndOfSequence, results[1].FinishReason); // the fallback is EOS too
        Assert.Equal(s1.Length + 1, results[1].TokenIds.Count);
    }

    [Theory]
    [InlineData(".", " Hello world")]
    [InlineData("lo wor", " Hel")]
    [InlineData("zzz", " Hello world. Goodbye")]
    public void Stop_strings_end_the_text_before_them_streamed_or_not(string stop, string expected)
    {
        var tok = GenerationFixtures.Gpt2Tokenizer;
        int[] script = [.. tok.Encode(" Hello world. Goodbye").Ids];
        using var model = new ScriptedModel(tok.VocabSize, [tok.Encode("Say").Count], [script], fallback: tok.EosTokenId!.Value);
        var config = new GenerationConfig { MaxNewTokens = 20, StopStrings = [stop] };
        var result = model.Generate(tok, "Say", config);
        Assert.Equal(expected, result.Text);
        Assert.Equal(stop == "zzz" ? FinishReason.EndOfSequence : FinishReason.StopString, result.FinishReason);
        var pieces = Stream(model, tok, "Say", config);
        Assert.Equal(expected, string.Concat(pieces));
        Assert.All(pieces, p => Assert.NotEmpty(p));
    }

    [Fact]
    public void Streaming_never_splits_a_utf8_character_and_concatenates_to_the_text()
    {
        var tok = GenerationFixtures.Gpt2Tokenizer;
        const string completion = " Voilà 日本語 😀👍🏽 fin";
        int[] script = [.. tok.Encode(completion).Ids];
        Assert.Contains(script, id => tok.Decode([id]).Contains('\uFFFD')); // the script really has partial characters
        using var model = new ScriptedModel(tok.VocabSize, [tok.Encode("Say").Count], [script], fallback: tok.EosTokenId!.Value);
        var config = new GenerationConfig { MaxNewTokens = 40 };
        var pieces = Stream(model, tok, "Say", config);
        Assert.True(pieces.Count > 5);
        foreach (string piece in pieces)
        {
            Assert.DoesNotContain('\uFFFD', piece);
            Assert.False(char.IsHighSurrogate(piece[^1]), $"piece '{piece}' ends in half a surrogate pair");
            Assert.False(char.IsLowSurrogate(piece[0]), $"piece '{piece}' starts with half a surrogate pair");
        }
        Assert.Equal(completion, string.Concat(pieces));
        Assert.Equal(completion, model.Generate(tok, "Say", config).Text);
    }

    [Fact]
    public void Streaming_a_real_model_concatenates_to_the_generated_text()
    {
        using var model = GenerationFixtures.TinyLlama(3);
        var tok = GenerationFixtures.SentencePieceTokenizer;
        var config = new GenerationConfig { MaxNewTokens = 15, DoSample = true, Seed = 5 };
        Assert.Equal(model.Generate(tok, "The cat", config).Text, string.Concat(Stream(model, tok, "The cat", config)));
    }

    [Fact]
    public async Task Streaming_honours_cancellation()
    {
        using var model = GenerationFixtures.TinyGpt2();
        var tok = GenerationFixtures.Gpt2Tokenizer;
        using var cts = new CancellationTokenSource();
        int pieces = 0;
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () =>
        {
            await foreach (string _ in model.GenerateStream(tok, "Hello", new GenerationConfig { MaxNewTokens = 30 }, cts.Token))
            {
                pieces++;
                cts.Cancel();
            }
        });
        Assert.Equal(1, pieces);
    }

    [Fact]
    public void A_prompt_that_fills_the_context_is_an_argument_error()
    {
        using var model = GenerationFixtures.TinyGpt2();
        var tok = GenerationFixtures.Gpt2Tokenizer;
        string prompt = string.Concat(Enumerable.Repeat(" word", 70));
        var e = Assert.Throws<ArgumentException>(() => model.Generate(tok, prompt, Greedy));
        Assert.Contains("context", e.Message);
        // Close to the end, generation stops at the context instead of crashing.
        var near = model.Generate(tok, string.Concat(Enumerable.Repeat(" word", 60)), Greedy);
        Assert.Equal(64 - 60, near.TokenIds.Count);
        Assert.Throws<ArgumentException>(() => model.Generate(tok, "x", new GenerationConfig { TopP = 0 }));
    }

    /// <summary>Words that are one GPT-2 token each, so a prompt of n words is n tokens and any tail of it re-encodes to the same ids.</summary>
    internal static string Words(int count, int skip = 0) =>
        string.Concat(Enumerable.Range(skip, count).Select(i => (string[])[" the", " cat", " sat", " on", " a", " mat", " and", " dog"] is var w ? w[i % w.Length] : ""));

    [Fact]
    public void The_context_error_names_the_prompt_length_max_new_tokens_the_context_and_the_option()
    {
        using var model = GenerationFixtures.TinyGpt2();
        var e = Assert.Throws<ArgumentException>(() => model.Generate(GenerationFixtures.Gpt2Tokenizer, Words(70), Greedy));
        Assert.Contains("70 tokens", e.Message);
        Assert.Contains("max_new_tokens is 12", e.Message);
        Assert.Contains("context is 64 positions", e.Message);
        Assert.Contains("TruncatePrompt", e.Message);
    }

    [Theory]
    [InlineData(70)] // longer than the context
    [InlineData(60)] // fits, but prompt + max_new_tokens does not
    public void Truncated_generation_equals_generating_from_the_manually_truncated_prompt(int words)
    {
        using var model = GenerationFixtures.TinyGpt2(seed: 3);
        var tok = GenerationFixtures.Gpt2Tokenizer;
        Assert.Equal(words, tok.Encode(Words(words)).Ids.Count);
        var truncated = model.Generate(tok, Words(words), Greedy with { TruncatePrompt = true });
        var manual = model.Generate(tok, Words(64 - 12, skip: words - (64 - 12)), Greedy);
        Assert.Equal(tok.Encode(Words(words)).Ids.Skip(words - 52), truncated.PromptIds);
        Assert.Equal(manual.PromptIds, truncated.PromptIds);
        Assert.Equal(12, truncated.TokenIds.Count);
        Assert.Equal(manual.TokenIds, truncated.TokenIds);
        Assert.Equal(manual.Text, truncated.Text);

        string streamed = string.Concat(Stream(model, tok, Words(words), Greedy with { TruncatePrompt = true }));
        Assert.Equal(manual.Text, streamed);
        // A prompt that fits is left alone.
        Assert.Equal(model.Generate(tok, Words(10), Greedy).TokenIds, model.Generate(tok, Words(10), Greedy with { TruncatePrompt = true }).TokenIds);
    }

    [Fact]
    public void Truncate_prompt_round_trips_through_generation_config_json_and_is_written_only_when_on()
    {
        Assert.DoesNotContain("truncate_prompt", new GenerationConfig().ToJson());
        string json = new GenerationConfig { TruncatePrompt = true }.ToJson();
        Assert.Contains("\"truncate_prompt\": true", json);
        Assert.True(GenerationConfig.Parse(json).TruncatePrompt);
    }
}
