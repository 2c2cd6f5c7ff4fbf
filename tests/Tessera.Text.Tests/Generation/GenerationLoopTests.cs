using System.Text.Json;
using Tessera.Text.Generation;

namespace Tessera.Text.Tests.Generation;

/// <summary>The shared loop and text layer (<see cref="GenerationLoop"/>, <see cref="CausalLMGeneration"/>) over a scripted back end.</summary>
public class GenerationLoopTests
{
    static HfTokenizer SentencePiece => AutoTokenizer.FromPretrained(TokenizerFixtures.SentencePieceFolder);

    static HfTokenizer Gpt2 => AutoTokenizer.FromPretrained(TokenizerFixtures.Gpt2Folder);

    static List<string> Stream(ICausalLMBackend backend, HfTokenizer tok, string prompt, GenerationConfig config) =>
        Task.Run(async () =>
        {
            var pieces = new List<string>();
            await foreach (string piece in backend.GenerateStream(tok, prompt, config)) pieces.Add(piece);
            return pieces;
        }).GetAwaiter().GetResult();

    [Fact]
    public void The_loop_feeds_left_padded_prompts_once_then_one_token_per_row()
    {
        var backend = new ScriptedBackend(20, [3, 1], [[7, 8, 9], [5, 6, 4]], fallback: 0);
        int[][] ids = backend.GenerateIds([[11, 12, 13], [14]], new GenerationConfig { MaxNewTokens = 3, PadTokenId = 1, EosTokenId = JsonSerializer.SerializeToElement(Array.Empty<int>()) });
        Assert.Equal([[7, 8, 9], [5, 6, 4]], ids);
        Assert.Equal(1, backend.StatesBegun);
        Assert.Equal(3, backend.Calls.Count);
        Assert.Equal([11L, 12, 13, 1, 1, 14], backend.Calls[0].Ids);
        Assert.Equal([1L, 1, 1, 0, 0, 1], backend.Calls[0].Mask);
        Assert.Equal([7L, 5], backend.Calls[1].Ids);
        Assert.Equal([1L, 1, 1, 1, 0, 0, 1, 1], backend.Calls[1].Mask);
        Assert.Equal([8L, 6], backend.Calls[2].Ids);
    }

    [Fact]
    public void Without_the_cache_every_step_feeds_the_whole_sequence_to_a_fresh_state()
    {
        var backend = new ScriptedBackend(20, [2], [[7, 8]], fallback: 0);
        int[] ids = backend.GenerateIds([3, 4], new GenerationConfig { MaxNewTokens = 2, UseCache = false });
        Assert.Equal([7, 8], ids);
        Assert.Equal(2, backend.StatesBegun);
        Assert.Equal([3L, 4, 7], backend.Calls[1].Ids);
    }

    [Fact]
    public void A_row_ends_at_eos_padded_after_while_the_others_go_on()
    {
        var backend = new ScriptedBackend(20, [1, 1], [[7, 2, 9], [5, 6, 4, 3]], fallback: 0);
        var config = new GenerationConfig { MaxNewTokens = 4 }.WithEosTokenIds(2);
        int[][] ids = backend.GenerateIds([[11], [12]], config);
        Assert.Equal([7, 2], ids[0]);
        Assert.Equal([5, 6, 4, 3], ids[1]);
        Assert.Equal([2L, 4], backend.Calls[3].Ids); // the finished row is fed the pad id (the first EOS id)
    }

    [Fact]
    public void Missing_ids_come_from_the_generation_config_then_the_model_config_then_the_tokenizer()
    {
        var tok = Gpt2;
        var model = new ScriptedBackend(50257, [1], [[]], 0, new SpecialTokenIds([7, 8], BosTokenId: 3));
        var resolved = model.ResolveConfig(null, tok);
        Assert.Equal([7, 8], resolved.EosTokenIds);
        Assert.Equal(3, resolved.BosTokenId);
        Assert.Equal(tok.PadTokenId, resolved.PadTokenId);
        var own = model.ResolveConfig(new GenerationConfig { BosTokenId = 4 }.WithEosTokenIds(9), tok);
        Assert.Equal([9], own.EosTokenIds);
        Assert.Equal(4, own.BosTokenId);
        var bare = new ScriptedBackend(50257, [1], [[]], 0).ResolveConfig(null, tok);
        Assert.Equal([tok.EosTokenId!.Value], bare.EosTokenIds);
        // An explicit empty list turns EOS off instead of falling back.
        Assert.Empty(model.ResolveConfig(new GenerationConfig().WithEosTokenIds([]), tok).EosTokenIds);
    }

    [Theory]
    [InlineData(".", " big world")]
    [InlineData("g wor", " bi")]
    [InlineData("zzz", " big world. More")]
    public void Stop_strings_cut_before_the_stop_and_SentencePiece_keeps_the_space_after_the_prompt(string stop, string expected)
    {
        var tok = SentencePiece;
        int eos = tok.EosTokenId!.Value;
        int[] prompt = [.. tok.Encode("Hello").Ids];
        int[] script = [.. tok.Encode("big world. More", addSpecialTokens: false).Ids];
        Assert.StartsWith("▁", tok.Encode("big world. More", addSpecialTokens: false).Tokens[0]); // the completion starts with a word boundary
        var backend = new ScriptedBackend(tok.VocabSize, [prompt.Length], [script], fallback: eos);
        var config = new GenerationConfig { MaxNewTokens = 30, StopStrings = [stop] };
        GenerationResult result = backend.Generate(tok, "Hello", config);
        Assert.Equal(expected, result.Text);
        Assert.Equal(stop == "zzz" ? FinishReason.EndOfSequence : FinishReason.StopString, result.FinishReason);
        Assert.Equal(expected, string.Concat(Stream(backend, tok, "Hello", config)));
        // The independent reference: decoding prompt + completion at once.
        if (stop == "zzz") Assert.Equal(tok.Decode([.. prompt, .. result.TokenIds], skipSpecialTokens: true), tok.Decode(prompt, skipSpecialTokens: true) + result.Text);
    }

    [Fact]
    public void The_budget_stops_at_the_context_and_a_prompt_filling_it_is_an_error()
    {
        var backend = new ScriptedBackend(20, [6], [[1, 2, 3, 4, 5]], fallback: 0, maxPositions: 8);
        Assert.Equal([1, 2], backend.GenerateIds([1, 1, 1, 1, 1, 1], new GenerationConfig { MaxNewTokens = 5, EosTokenId = JsonSerializer.SerializeToElement(Array.Empty<int>()) }));
        var e = Assert.Throws<ArgumentException>(() => backend.GenerateIds(Enumerable.Repeat(1, 8).ToArray(), new GenerationConfig { MaxNewTokens = 2 }));
        Assert.Contains("context", e.Message);
        Assert.Throws<ArgumentException>(() => backend.GenerateIds(Array.Empty<int>()));
    }
}
