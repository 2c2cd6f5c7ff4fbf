using Tessera.Export;
using Tessera.Export.Decoders;
using Tessera.Runtime.Generation;
using Tessera.Tests.Text.Generation;
using Tessera.Text;
using Tessera.Text.Generation;
using Tessera.Transformers;

namespace Tessera.Tests.Export;

/// <summary>Generation from exported decoders with <see cref="OrtCausalLM"/> (ONNX Runtime only) against Tessera's TorchSharp generation.</summary>
public class OrtGenerationTests
{
    static void GreedyMatches(CausalLanguageModel model, HfTokenizer tokenizer, string prompt)
    {
        using var dir = new ExportTempDir();
        DecoderOnnxExporter.Export(model, dir.Path);
        GenerationResult expected = model.Generate(tokenizer, prompt, new GenerationConfig { MaxNewTokens = 12 });
        Assert.NotEmpty(expected.TokenIds);

        using var lm = OrtCausalLM.Load(dir.Path);
        int[] actual = lm.Generate(expected.PromptIds, new OrtGenerationSettings { MaxNewTokens = 12, EosTokenIds = Eos(model, tokenizer) });
        Assert.Equal(expected.TokenIds, actual);
    }

    /// <summary>The EOS ids TextGeneration falls back to when the config names none: the model config's, else the tokenizer's.</summary>
    static IReadOnlyList<int> Eos(CausalLanguageModel model, HfTokenizer tokenizer) =>
        model.PretrainedConfig.EosTokenIds.Count > 0 ? model.PretrainedConfig.EosTokenIds : tokenizer.EosTokenId is int e ? [e] : [];

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
        var settings = new OrtGenerationSettings { MaxNewTokens = 16, DoSample = true, Temperature = 1.5, TopK = 0, TopP = 0.95, Seed = 42, EosTokenIds = [] };
        int[] a = lm.Generate(prompt, settings), b = lm.Generate(prompt, settings);
        int[] c = lm.Generate(prompt, settings with { Seed = 43 });
        Assert.Equal(a, b);
        Assert.NotEqual(a, c);
        Assert.Equal(16, a.Length);

        int[] greedy = lm.Generate(prompt, new OrtGenerationSettings { MaxNewTokens = 16, EosTokenIds = [] });
        Assert.Equal(greedy, lm.Generate(prompt, settings with { TopK = 1 }));

        int[] stopped = lm.Generate(prompt, new OrtGenerationSettings { MaxNewTokens = 16, EosTokenIds = [greedy[3]] });
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
        var settings = new OrtGenerationSettings { MaxNewTokens = 12, EosTokenIds = Eos(model, tok) };

        var e = Assert.Throws<ArgumentException>(() => lm.Generate(ids, settings));
        Assert.Contains("70 tokens", e.Message);
        Assert.Contains("TruncatePrompt", e.Message);

        int[] truncated = lm.Generate(ids, settings with { TruncatePrompt = true });
        Assert.NotEmpty(truncated);
        Assert.Equal(lm.Generate(ids[^52..], settings), truncated);
        var torch = model.Generate(tok, prompt, new GenerationConfig { MaxNewTokens = 12, TruncatePrompt = true });
        Assert.Equal(torch.TokenIds, truncated);
        Assert.Equal([truncated, lm.Generate(ids[^30..], settings)], lm.Generate([ids, ids[^30..]], settings with { TruncatePrompt = true }));
    }

    [Fact]
    public void Folder_eos_from_generation_config_is_used()
    {
        using var dir = new ExportTempDir();
        using (var model = GenerationFixtures.TinyGpt2(seed: 7)) DecoderOnnxExporter.Export(model, dir.Path, new TransformerExportOptions { Verify = false });
        File.WriteAllText(Path.Combine(dir.Path, "generation_config.json"), "{\"eos_token_id\": [5, 9]}");
        using var lm = OrtCausalLM.Load(dir.Path);
        Assert.Equal([5, 9], lm.EosTokenIds);
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
        var settings = new OrtGenerationSettings { MaxNewTokens = 8, EosTokenIds = Eos(model, tokenizer) };
        int[][] actual = lm.Generate(expected.Select(e => e.PromptIds).ToArray(), settings);
        for (int r = 0; r < prompts.Length; r++) Assert.Equal(expected[r].TokenIds, actual[r]);
        for (int r = 0; r < prompts.Length; r++) Assert.Equal(actual[r], lm.Generate(expected[r].PromptIds, settings));
    }
}
