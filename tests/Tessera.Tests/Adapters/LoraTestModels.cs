using Tessera.Tests.Shared;
using Tessera.Tests.Transformers;
using Tessera.Transformers;
using TorchSharp;
using static TorchSharp.torch;

namespace Tessera.Tests.Adapters;

/// <summary>The tiny seeded models, logits and comparisons the adapter tests share.</summary>
internal static class LoraTestModels
{
    public static Gpt2LMHeadModel Gpt2(int seed)
    {
        random.manual_seed(seed);
        var model = new Gpt2LMHeadModel(TinyModels.Gpt2());
        TinyModels.Randomize(model, seed);
        model.eval();
        return model;
    }

    public static LlamaForCausalLM Llama(int seed)
    {
        random.manual_seed(seed);
        var model = new LlamaForCausalLM(TinyModels.Llama());
        TinyModels.Randomize(model, seed);
        model.eval();
        return model;
    }

    public static Tensor Logits(CausalLanguageModel model, Tensor ids)
    {
        using var noGrad = no_grad();
        return model.forward(ids, useCache: false).Logits;
    }

    public static double MaxDiff(Tensor a, Tensor b) => (a - b).abs().max().item<float>();

    public static Dictionary<string, Tensor> Snapshot(nn.Module model) =>
        model.state_dict().ToDictionary(kv => kv.Key, kv => kv.Value.detach().clone());

    /// <summary>Runs Transformers/reference_common.py + Adapters/reference_{name}.py with <paramref name="args"/>; returns its stdout.</summary>
    public static string RunReference(string name, params string[] args)
    {
        string common = File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "Transformers", "reference_common.py"));
        string script = File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "Adapters", $"reference_{name}.py"));
        return ReferencePython.Run(common + "\n" + script, args);
    }
}
