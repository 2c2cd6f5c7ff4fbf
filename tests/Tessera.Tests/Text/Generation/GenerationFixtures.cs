using Tessera.Text.Tests;
using Tessera.Text;
using Tessera.Transformers;
using static TorchSharp.torch;

namespace Tessera.Tests.Text.Generation;

/// <summary>Tokenizers and tiny random decoders for the generation tests, built once per run.</summary>
static class GenerationFixtures
{
    static readonly Lazy<HfTokenizer> gpt2Tokenizer = new(() => AutoTokenizer.FromPretrained(TokenizerFixtures.Gpt2Folder));
    static readonly Lazy<HfTokenizer> spTokenizer = new(() => AutoTokenizer.FromPretrained(TokenizerFixtures.SentencePieceFolder));

    /// <summary>GPT-2's byte-level BPE (50257 ids, EOS 50256).</summary>
    public static HfTokenizer Gpt2Tokenizer => gpt2Tokenizer.Value;

    /// <summary>The Llama-2-style SentencePiece BPE fixture (&lt;s&gt; = 1, &lt;/s&gt; = 2).</summary>
    public static HfTokenizer SentencePieceTokenizer => spTokenizer.Value;

    /// <summary>A 2-layer GPT-2 over GPT-2's vocabulary, with weights spread wide enough that greedy choices are clear-cut.</summary>
    public static Gpt2LMHeadModel TinyGpt2(int seed = 1)
    {
        manual_seed(seed);
        var model = new Gpt2LMHeadModel(new Gpt2Config { VocabSize = 50257, NPositions = 64, NEmbd = 32, NLayer = 2, NHead = 4 });
        Spread(model, seed);
        model.eval();
        return model;
    }

    /// <summary>A 2-layer Llama (grouped-query attention) over the SentencePiece fixture's vocabulary.</summary>
    public static LlamaForCausalLM TinyLlama(int seed = 1)
    {
        manual_seed(seed);
        var model = new LlamaForCausalLM(new LlamaConfig
        {
            VocabSize = SentencePieceTokenizer.VocabSize, HiddenSize = 32, IntermediateSize = 64, NumHiddenLayers = 2,
            NumAttentionHeads = 4, NumKeyValueHeads = 2, MaxPositionEmbeddings = 64, BosTokenId = 1,
        });
        Spread(model, seed);
        model.eval();
        return model;
    }

    static void Spread(nn.Module model, int seed)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        using var generator = new TorchSharp.torch.Generator((ulong)seed);
        foreach (var (_, p) in model.named_parameters())
            p.add_(randn(p.shape, generator: generator) * 0.3);
    }
}
