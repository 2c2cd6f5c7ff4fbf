using Tessera.Tests.Shared;
using Tessera.Transformers;
using TorchSharp;
using static TorchSharp.torch;

namespace Tessera.Tests.Transformers;

/// <summary>Tiny random configurations, inputs and the reference-script runner shared by the Transformers tests.</summary>
static class TinyModels
{
    public static Gpt2Config Gpt2() => new() { VocabSize = 100, NPositions = 32, NEmbd = 32, NLayer = 2, NHead = 4 };

    public static LlamaConfig Llama() => new()
    {
        VocabSize = 100, HiddenSize = 32, IntermediateSize = 64, NumHiddenLayers = 2, NumAttentionHeads = 4,
        NumKeyValueHeads = 2, MaxPositionEmbeddings = 64,
    };

    public static BertConfig Bert() => new BertConfig
    {
        VocabSize = 100, HiddenSize = 32, NumHiddenLayers = 2, NumAttentionHeads = 4, IntermediateSize = 64, MaxPositionEmbeddings = 40,
    }.WithNumLabels(3);

    /// <summary>Adds N(0, 0.05²) to every parameter, so biases and norm scales are not the trivial 0 and 1 (which would hide swapped names).</summary>
    public static void Randomize(nn.Module model, int seed)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var generator = new Generator((ulong)seed);
        foreach (var (_, p) in model.named_parameters())
            p.add_(randn(p.shape, generator: generator) * 0.05);
    }

    /// <summary>Random ids [rows, seq] in 1..vocab-1, with <paramref name="leftPad"/>[r] leading pad positions (id 0, mask 0) in row r.</summary>
    public static (Tensor Ids, Tensor Mask) Inputs(int vocab, int seq, int seed, params int[] leftPad)
    {
        var rng = new Random(seed);
        int rows = leftPad.Length;
        var ids = new long[rows * seq];
        var mask = new long[rows * seq];
        for (int r = 0; r < rows; r++)
            for (int t = 0; t < seq; t++)
            {
                bool pad = t < leftPad[r];
                ids[r * seq + t] = pad ? 0 : rng.Next(1, vocab);
                mask[r * seq + t] = pad ? 0 : 1;
            }
        return (tensor(ids, [rows, seq]), tensor(mask, [rows, seq]));
    }

    /// <summary>Writes <paramref name="t"/> (int64) as raw little-endian.</summary>
    public static void WriteLongs(string path, Tensor t)
    {
        using var c = t.contiguous();
        ReferencePython.WriteLongs(path, c.data<long>().ToArray());
    }

    /// <summary>Runs reference_common.py + reference_{name}.py with <paramref name="args"/>.</summary>
    public static void RunReference(string name, params string[] args)
    {
        string dir = Path.Combine(AppContext.BaseDirectory, "Transformers");
        string script = File.ReadAllText(Path.Combine(dir, "reference_common.py")) + "\n" + File.ReadAllText(Path.Combine(dir, $"reference_{name}.py"));
        ReferencePython.Run(script, args);
    }

    /// <summary>Max |expected - actual| over positions where <paramref name="mask"/> [b, s] is 1; actual is [b, s, ...].</summary>
    public static double MaxErrorOnTokens(float[] expected, Tensor actual, Tensor? mask)
    {
        using var scope = NewDisposeScope();
        Tensor ours = actual.detach().cpu().to_type(ScalarType.Float32).contiguous();
        Assert.Equal(expected.Length, (int)ours.numel());
        Tensor theirs = tensor(expected).view(ours.shape);
        Tensor diff = (ours - theirs).abs();
        if (mask is not null) diff = diff * mask.to_type(ScalarType.Float32).view(mask.shape[0], mask.shape[1], 1);
        Assert.True(ours.abs().max().item<float>() > 1e-3, "outputs are all ~0: the comparison would prove nothing");
        return diff.max().item<float>();
    }

    /// <summary>Max |a - b| at positions where <paramref name="mask"/> is 1.</summary>
    public static double MaxDifference(Tensor a, Tensor b, Tensor? mask = null)
    {
        using var scope = NewDisposeScope();
        Tensor diff = (a.to_type(ScalarType.Float32) - b.to_type(ScalarType.Float32)).abs();
        if (mask is not null) diff = diff * mask.to_type(ScalarType.Float32).view(mask.shape[0], mask.shape[1], 1);
        return diff.max().item<float>();
    }

    /// <summary>Max difference between full-sequence logits and a prefill of <paramref name="prefill"/> tokens followed by
    /// one-token steps through the cache; <paramref name="inspect"/> sees the final cache.</summary>
    public static double IncrementalVersusFull(CausalLanguageModel model, Tensor ids, Tensor mask, int prefill, Action<KeyValueCache>? inspect = null)
    {
        long seq = ids.shape[1];
        using var noGrad = no_grad();
        Tensor full = model.forward(ids, mask, useCache: false).Logits;
        CausalLMOutput step = model.forward(ids.narrow(1, 0, prefill), mask.narrow(1, 0, prefill));
        using KeyValueCache cache = step.PastKeyValues!;
        var pieces = new List<Tensor> { step.Logits };
        for (int t = prefill; t < seq; t++)
        {
            CausalLMOutput next = model.forward(ids.narrow(1, t, 1), mask.narrow(1, 0, t + 1), cache);
            Assert.Same(cache, next.PastKeyValues);
            pieces.Add(next.Logits);
        }
        Assert.Equal(seq, cache.SequenceLength);
        inspect?.Invoke(cache);
        return MaxDifference(full, cat(pieces, 1), mask);
    }

    /// <summary>Max difference between row 1 of a batch left-padded by <paramref name="pad"/> and that row run alone.</summary>
    public static double LeftPaddedRowVersusAlone(CausalLanguageModel model, int seq = 9, int pad = 4)
    {
        var (ids, mask) = Inputs(100, seq, seed: 8, 0, pad);
        using var noGrad = no_grad();
        Tensor batched = model.forward(ids, mask).Logits;
        Tensor alone = model.forward(ids.narrow(0, 1, 1).narrow(1, pad, seq - pad)).Logits;
        return MaxDifference(batched.narrow(0, 1, 1).narrow(1, pad, seq - pad), alone);
    }
}
