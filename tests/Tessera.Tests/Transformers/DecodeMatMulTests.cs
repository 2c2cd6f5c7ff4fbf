using Tessera.Transformers;
using TorchSharp;
using static TorchSharp.torch;

namespace Tessera.Tests.Transformers;

public class DecodeMatMulTests
{
    [Theory]
    [InlineData(37, 53)]
    [InlineData(64, 48)]
    [InlineData(3, 17)]
    [InlineData(768, 2304)] // 7 MB: split between the calling thread and the helper
    [InlineData(1000, 1001)]
    public void Single_row_conv1d_without_grad_matches_matmul(int inFeatures, int outFeatures)
    {
        manual_seed(1);
        using var layer = new Conv1D(inFeatures, outFeatures);
        using (no_grad()) layer.Bias.normal_();
        using var x = randn(1, 1, inFeatures);
        using var expected = matmul(x, layer.Weight).add_(layer.Bias).detach();
        using (no_grad())
        {
            using var actual = layer.call(x);
            Assert.Equal(expected.shape, actual.shape);
            Assert.True(actual.allclose(expected, rtol: 1e-5, atol: 1e-5));
        }
        // With grad on, the product goes through libtorch and stays differentiable.
        using var y = layer.call(x);
        Assert.True(y.requires_grad);
        y.sum().backward();
        Assert.NotNull(layer.Weight.grad);
    }

    [Theory]
    [InlineData(8001, 768)] // 24 MB: split by rows
    [InlineData(5, 33)]
    public void Single_row_linear_without_grad_matches_libtorch(int outFeatures, int inFeatures)
    {
        manual_seed(3);
        using var weight = randn(outFeatures, inFeatures);
        using var x = randn(1, 1, inFeatures);
        using var expected = nn.functional.linear(x, weight);
        using var actual = DecodeMatMul.TryLinear(x, weight);
        if (!System.Runtime.Intrinsics.Vector512.IsHardwareAccelerated)
        {
            Assert.Null(actual); // without AVX-512 the kernel declines and libtorch runs
            return;
        }
        Assert.NotNull(actual);
        Assert.Equal(expected.shape, actual.shape);
        Assert.True(actual.allclose(expected, rtol: 1e-4, atol: 1e-4), $"max abs {(actual - expected).abs().max().item<float>()}");
    }

    [Fact]
    public void Concurrent_callers_share_the_helper_thread_and_get_their_own_results()
    {
        Requires.Avx512(); // the kernel declines without AVX-512
        manual_seed(4);
        using var weight = randn(4096, 256); // 4 MB: split
        var inputs = Enumerable.Range(0, 4).Select(_ => randn(1, 256)).ToArray();
        var expected = inputs.Select(x => nn.functional.linear(x, weight)).ToArray();
        Parallel.For(0, 4, new ParallelOptions { MaxDegreeOfParallelism = 4 }, i =>
        {
            for (int round = 0; round < 20; round++)
            {
                using var actual = DecodeMatMul.TryLinear(inputs[i], weight)!;
                Assert.True(actual.allclose(expected[i], rtol: 1e-4, atol: 1e-4), $"caller {i}, round {round}");
            }
        });
        foreach (var t in inputs.Concat(expected)) t.Dispose();
    }

    [Fact]
    public void Gpt2_one_token_logits_match_with_and_without_grad()
    {
        manual_seed(2);
        using var model = new Gpt2LMHeadModel(TinyModels.Gpt2());
        model.eval();
        using var ids = tensor(new long[] { 3, 1, 4 }, [1, 3]);
        using var expected = model.forward(ids).Logits.select(1, -1).detach();
        using (no_grad())
        {
            using var cache = new KeyValueCache(model.NumLayers);
            model.forward(ids.narrow(1, 0, 2), null, cache).Logits.Dispose();
            using var actual = model.forward(ids.narrow(1, 2, 1), null, cache).Logits.select(1, -1);
            Assert.True(actual.allclose(expected, rtol: 1e-4, atol: 1e-5));
        }
    }

    /// <summary>Last-position logits of <paramref name="ids"/>' final token, decoded with the cache under no_grad (the kernel path).</summary>
    static Tensor DecodeLast(CausalLanguageModel model, Tensor ids)
    {
        using var noGrad = no_grad();
        using var cache = new KeyValueCache(model.NumLayers);
        long n = ids.shape[1];
        model.forward(ids.narrow(1, 0, n - 1), null, cache).Logits.Dispose();
        return model.forward(ids.narrow(1, n - 1, 1), null, cache).Logits.select(1, -1);
    }

    [Theory]
    [InlineData("llama", true)]
    [InlineData("qwen2", false)] // q/k/v biases: the kernel's bias path
    public void Llama_one_token_logits_match_with_and_without_grad(string modelType, bool tied)
    {
        manual_seed(5);
        using var model = new LlamaForCausalLM(TinyModels.Llama() with { ModelType = modelType, TieWordEmbeddings = tied });
        TinyModels.Randomize(model, 5);
        model.eval();
        using var ids = tensor(new long[] { 3, 1, 4, 1, 5 }, [1, 5]);
        using var expected = model.forward(ids).Logits.select(1, -1).detach(); // grad on: libtorch's products
        using var actual = DecodeLast(model, ids);
        Assert.True(actual.allclose(expected, rtol: 1e-4, atol: 1e-5), $"max abs {(actual - expected).abs().max().item<float>()}");
    }

    [Fact]
    public void A_LoRA_hooked_projection_keeps_its_adapter_when_decoding()
    {
        manual_seed(6);
        using var model = new LlamaForCausalLM(TinyModels.Llama());
        TinyModels.Randomize(model, 6);
        model.eval();
        using var ids = tensor(new long[] { 7, 2, 9 }, [1, 3]);
        using var baseLogits = DecodeLast(model, ids);
        var peft = Tessera.Adapters.LoraModel.Wrap(model, new Tessera.Adapters.LoraConfig(R: 4, Alpha: 8, TargetModules: ["q_proj", "v_proj", "down_proj"]));
        using (no_grad())
            foreach (var (name, p) in model.named_parameters())
                if (name.Contains("lora_B")) p.normal_(0, 0.5); // B = 0 at init would hide a skipped adapter
        using var expected = model.forward(ids).Logits.select(1, -1).detach();
        using var actual = DecodeLast(model, ids);
        Assert.True(actual.allclose(expected, rtol: 1e-4, atol: 1e-5), $"max abs {(actual - expected).abs().max().item<float>()}, vs base {(actual - baseLogits).abs().max().item<float>()}");
        Assert.False(actual.allclose(baseLogits, rtol: 1e-3, atol: 1e-3)); // the adapter changed the decode step
    }
}
