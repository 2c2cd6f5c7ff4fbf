using Tessera.Text.Generation;

namespace Tessera.Text.Tests.Generation;

/// <summary>A tokenizer from another model (ids past the model's embedding) is a named error before the model runs.</summary>
public class VocabularyMismatchTests
{
    [Fact]
    public void A_tokenizer_with_ids_past_the_models_vocabulary_is_refused_before_the_first_forward()
    {
        HfTokenizer gpt2 = AutoTokenizer.FromPretrained(TokenizerFixtures.Gpt2Folder);
        int hello = gpt2.Encode("Hello").Ids[0];
        Assert.True(hello >= 1000);
        var backend = new ScriptedBackend(1000, [1], [[5]], fallback: 0);

        var e = Assert.Throws<TesseraException>(() => backend.Generate(gpt2, "Hello", new GenerationConfig { MaxNewTokens = 1 }));
        Assert.Equal($"the tokenizer (tokenizer.json) gives id {hello} ('Hello') but the model (config.json vocab_size) has 1000 ids: the tokenizer does not belong to this model", e.Message);
        Assert.Empty(backend.Calls);

        var streamed = Assert.Throws<TesseraException>(() => Task.Run(async () =>
        {
            await foreach (string _ in backend.GenerateStream(gpt2, "Hello", new GenerationConfig { MaxNewTokens = 1 })) { }
        }).GetAwaiter().GetResult());
        Assert.Contains("does not belong to this model", streamed.Message);

        var ids = Assert.Throws<ArgumentException>(() => backend.GenerateIds([3, 1000], new GenerationConfig { MaxNewTokens = 1 }));
        Assert.StartsWith("prompt id 1000 is outside the model's vocabulary of 1000 ids", ids.Message);
        Assert.Empty(backend.Calls);
    }
}
