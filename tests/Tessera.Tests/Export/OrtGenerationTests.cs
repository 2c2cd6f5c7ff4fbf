using Tessera.Export;
using Tessera.Export.Decoders;
using Tessera.Runtime.Generation;
using Tessera.Tests.Text.Generation;
using Tessera.Text;
using Tessera.Text.Generation;
using Tessera.Transformers;

namespace Tessera.Tests.Export;

/// <summary>Generation from exported decoders with <see cref="OrtCausalLM"/> (ONNX Runtime only) against Tessera's TorchSharp generation: the same loop and sampler over two back ends.</summary>
public class OrtGenerationTests
{
    static void GreedyMatches(CausalLanguageModel model, HfTokenizer tokenizer, string prompt)
    {
        using var dir = new ExportTempDir();
        DecoderOnnxExporter.Export(model, dir.Path);
        GenerationResult expected = model.Generate(tokenizer, prompt, new GenerationConfig { MaxNewTokens = 12 });
        Assert.NotEmpty(expected.TokenIds);

        using var lm = OrtCausalLM.Load(dir.Path);
        int[] actual = lm.GenerateIds(expected.PromptIds, Eos(model, tokenizer) with { MaxNewTokens = 12 });
        Assert.Equal(expected.TokenIds, actual);
    }

    /// <summary>A config with the EOS ids TextGeneration falls back to when the config names none: the model config's, else the tokenizer's.</summary>
    static GenerationConfig Eos(CausalLanguageModel model, HfTokenizer tokenizer) =>
        new TorchCausalLM(model).ResolveConfig(null, tokenizer);

    static readonly GenerationConfig NoEos = new GenerationConfig().WithEosTokenIds([]);

    [Trait("Category", "Slow")]
    [Fact]
    public void Greedy_Gpt2_through_ONNX_Runtime_gives_the_same_ids_as_TorchSharp()
    {
        using var model = GenerationFixtures.TinyGpt2(seed: 4);
        GreedyMatches(model, GenerationFixtures.Gpt2Tokenizer, "Once upon a time");
    }

    [Fact]
    public void Greedy_Llama_through_ONNX_Runtime_gives_the_same_ids_as_TorchSharp()
    {
        using var model = GenerationFixtures.TinyLlama(seed: 5);
        GreedyMatches(model, GenerationFixtures.SentencePieceTokenizer, "The quick brown fox");
    }

    [Trait("Category", "Slow")]
    [Fact]
    public void Sampling_is_reproducible_by_seed_and_stops_at_eos()
    {
        using var dir = new ExportTempDir();
        using (var model = GenerationFixtures.TinyGpt2(seed: 6)) DecoderOnnxExporter.Export(model, dir.Path, new TransformerExportOptions { Verify = false });
        using var lm = OrtCausalLM.Load(dir.Path);
        Assert.Equal(2, lm.NumLayers);
        Assert.Equal(64, lm.MaxPositions);
        int[] prompt = [464, 2068, 7586];
        var settings = NoEos with { MaxNewTokens = 16, DoSample = true, Temperature = 1.5, TopK = 0, TopP = 0.95, Seed = 42 };
        int[] a = lm.GenerateIds(prompt, settings), b = lm.GenerateIds(prompt, settings);
        int[] c = lm.GenerateIds(prompt, settings with { Seed = 43 });
        Assert.Equal(a, b);
        Assert.NotEqual(a, c);
        Assert.Equal(16, a.Length);

        int[] greedy = lm.GenerateIds(prompt, NoEos with { MaxNewTokens = 16 });
        Assert.Equal(greedy, lm.GenerateIds(prompt, settings with { TopK = 1 }));

        int[] stopped = lm.GenerateIds(prompt, new GenerationConfig { MaxNewTokens = 16 }.WithEosTokenIds(greedy[3]));
        Assert.Equal(greedy.Take(Array.IndexOf(greedy, greedy[3]) + 1), stopped);
    }

    [Fact]
    public void Truncated_prompt_through_ONNX_Runtime_equals_the_manually_truncated_prompt_and_TorchSharp()
    {
        using var dir = new ExportTempDir();
        using var model = GenerationFixtures.TinyGpt2(seed: 3);
        DecoderOnnxExporter.Export(model, dir.Path, new TransformerExportOptions { Verify = false });
        using var lm = OrtCausalLM.Load(dir.Path);
        var tok = GenerationFixtures.Gpt2Tokenizer;
        string prompt = TextGenerationTests.Words(70);
        int[] ids = [.. tok.Encode(prompt).Ids];
        var settings = Eos(model, tok) with { MaxNewTokens = 12 };

        var e = Assert.Throws<ArgumentException>(() => lm.GenerateIds(ids, settings));
        Assert.Contains("70 tokens", e.Message);
        Assert.Contains("TruncatePrompt", e.Message);

        int[] truncated = lm.GenerateIds(ids, settings with { TruncatePrompt = true });
        Assert.NotEmpty(truncated);
        Assert.Equal(lm.GenerateIds(ids[^52..], settings), truncated);
        var torch = model.Generate(tok, prompt, new GenerationConfig { MaxNewTokens = 12, TruncatePrompt = true });
        Assert.Equal(torch.TokenIds, truncated);
        Assert.Equal([truncated, lm.GenerateIds(ids[^30..], settings)], lm.GenerateIds([ids, ids[^30..]], settings with { TruncatePrompt = true }));
    }

    [Fact]
    public void Folder_eos_from_generation_config_then_config_json_is_used()
    {
        using var dir = new ExportTempDir();
        using (var model = GenerationFixtures.TinyGpt2(seed: 7)) DecoderOnnxExporter.Export(model, dir.Path, new TransformerExportOptions { Verify = false });
        Gpt2Vocabulary.WriteTokenizerFiles(dir.Path);
        File.WriteAllText(Path.Combine(dir.Path, "config.json"), File.ReadAllText(Path.Combine(dir.Path, "config.json")).Replace("{", "{\"eos_token_id\": 4, ", StringComparison.Ordinal));
        using (var lm = OrtCausalLM.Load(dir.Path))
        {
            Assert.Equal([4], lm.SpecialTokenIds.EosTokenIds);
            Assert.Equal([4], lm.ResolveConfig(null).EosTokenIds);
        }
        File.WriteAllText(Path.Combine(dir.Path, "generation_config.json"), "{\"eos_token_id\": [5, 9]}");
        using var generator = OrtTextGenerator.FromPretrained(dir.Path);
        Assert.Equal([5, 9], generator.GenerationConfig.EosTokenIds);
        Assert.Equal([5, 9], generator.Model.ResolveConfig(generator.GenerationConfig).EosTokenIds);
    }

    [Trait("Category", "Slow")]
    [Fact]
    public void Batched_left_padded_greedy_matches_TorchSharp_batched_generation()
    {
        using var dir = new ExportTempDir();
        using var model = GenerationFixtures.TinyLlama(seed: 9);
        DecoderOnnxExporter.Export(model, dir.Path);
        var tokenizer = GenerationFixtures.SentencePieceTokenizer;
        string[] prompts = ["The quick brown fox jumps", "Hello", "A tale of two"];
        var expected = model.Generate(tokenizer, prompts, new GenerationConfig { MaxNewTokens = 8 });

        using var lm = OrtCausalLM.Load(dir.Path);
        var settings = Eos(model, tokenizer) with { MaxNewTokens = 8 };
        int[][] actual = lm.GenerateIds(expected.Select(e => e.PromptIds).ToArray(), settings);
        for (int r = 0; r < prompts.Length; r++) Assert.Equal(expected[r].TokenIds, actual[r]);
        for (int r = 0; r < prompts.Length; r++) Assert.Equal(actual[r], lm.GenerateIds(expected[r].PromptIds, settings));
    }

    [Fact]
    public void Same_seed_and_same_logits_give_the_same_sampled_tokens_on_both_back_ends()
    {
        using var dir = new ExportTempDir();
        using var model = GenerationFixtures.TinyGpt2(seed: 8);
        DecoderOnnxExporter.Export(model, dir.Path);
        using var lm = OrtCausalLM.Load(dir.Path);
        var tok = GenerationFixtures.Gpt2Tokenizer;
        string[] prompts = ["Once upon a time", "The cat"];
        foreach (var config in new[]
        {
            new GenerationConfig { MaxNewTokens = 16, DoSample = true, TopK = 0, Seed = 11 },
            new GenerationConfig { MaxNewTokens = 16, DoSample = true, Temperature = 0.7, TopK = 40, TopP = 0.9, RepetitionPenalty = 1.3, Seed = 12 },
        })
        {
            var torch = model.Generate(tok, prompts, config);
            var ort = lm.Generate(tok, prompts, config);
            for (int r = 0; r < prompts.Length; r++)
            {
                Assert.Equal(torch[r].TokenIds, ort[r].TokenIds);
                Assert.Equal(torch[r].Text, ort[r].Text);
            }
            // Really sampled: another seed gives other tokens.
            Assert.NotEqual(torch[0].TokenIds, model.Generate(tok, prompts[0], config with { Seed = config.Seed + 100 }).TokenIds);
        }
    }

    [Fact]
    public async Task ORT_text_generation_cuts_before_the_stop_string_and_keeps_the_space_after_a_SentencePiece_prompt()
    {
        using var dir = new ExportTempDir();
        var tok = GenerationFixtures.SentencePieceTokenizer;
        // A random model whose first new token starts a word ("▁..."), the case where a decoder that is not primed with
        // the prompt's last token loses the space.
        int[] promptIds = [.. tok.Encode("The quick brown fox").Ids];
        string promptText = tok.Decode(promptIds, skipSpecialTokens: true);
        bool StartsAWord(CausalLanguageModel m)
        {
            int id = m.Generate(tok, "The quick brown fox", new GenerationConfig { MaxNewTokens = 1 }).TokenIds[0];
            return tok.Decode([.. promptIds, id], skipSpecialTokens: true)[promptText.Length..].StartsWith(' ');
        }
        int seed = Enumerable.Range(1, 40).First(s =>
        {
            using var candidate = GenerationFixtures.TinyLlama(s);
            return StartsAWord(candidate);
        });
        using var model = GenerationFixtures.TinyLlama(seed);
        DecoderOnnxExporter.Export(model, dir.Path);
        using var generator = new OrtTextGenerator(OrtCausalLM.Load(dir.Path), tok);
        var config = new GenerationConfig { MaxNewTokens = 24, EosTokenId = null };
        var torch = model.Generate(tok, "The quick brown fox", config);
        var ort = generator.Generate("The quick brown fox", config);
        Assert.Equal(torch.TokenIds, ort.TokenIds);
        // The completion starts with what decoding the prompt and the first new token at once adds to the prompt:
        // a word-initial SentencePiece token ("▁word") keeps its space after the prompt.
        string prompt = tok.Decode(ort.PromptIds, skipSpecialTokens: true);
        string first = tok.Decode([.. ort.PromptIds, ort.TokenIds[0]], skipSpecialTokens: true)[prompt.Length..];
        Assert.StartsWith(" ", first);
        Assert.StartsWith(first, ort.Text);
        Assert.True(ort.Text.Length > 6, ort.Text);

        // A stop string from the middle of that text: the result ends right before it, streamed or not.
        string stop = ort.Text.Substring(ort.Text.Length / 2, 3);
        string expected = ort.Text[..ort.Text.IndexOf(stop, StringComparison.Ordinal)];
        var stopped = generator.Generate("The quick brown fox", config with { StopStrings = [stop] });
        Assert.Equal(expected, stopped.Text);
        Assert.Equal(FinishReason.StopString, stopped.FinishReason);
        var pieces = new List<string>();
        await foreach (string piece in generator.GenerateStream("The quick brown fox", config with { StopStrings = [stop] })) pieces.Add(piece);
        Assert.Equal(expected, string.Concat(pieces));
        Assert.Equal(torch.Text, ort.Text);
    }
}
