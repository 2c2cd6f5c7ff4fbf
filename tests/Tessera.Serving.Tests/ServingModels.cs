using Tessera.Tests.Shared;
using Tessera.Text;
using Tessera.Text.Generation;
using Tessera.Transformers;

namespace Tessera.Serving.Tests;

/// <summary>
/// The tiny models the serving tests share, made once per test class: a random GPT-2 (GPT-2's tokenizer, 2 layers,
/// 256 positions) exported to an ONNX decoder folder by <c>tessera export</c>, and (when python3-onnx is installed) a
/// linear classifier ONNX model [N,1,4,4] -> [N,3] written with the onnx package, its weights alongside.
/// </summary>
public sealed class ServingModels : IDisposable
{
    readonly TempDirectory temp = new("tessera-serve-");

    public ServingModels()
    {
        string folder = System.IO.Path.Combine(temp.Path, "gpt2");
        TorchSharp.torch.manual_seed(7);
        using (var model = new Gpt2LMHeadModel(new Gpt2Config { VocabSize = 50257, NPositions = 256, NEmbd = 32, NLayer = 2, NHead = 2, BosTokenId = 50256 }))
            model.SavePretrained(folder);
        Gpt2Vocabulary.WriteTokenizerFiles(folder);
        new GenerationConfig { BosTokenId = 50256, EosTokenId = System.Text.Json.JsonSerializer.SerializeToElement(50256) }.Save(folder);
        LanguageModel = System.IO.Path.Combine(temp.Path, "lm");
        var error = new StringWriter();
        if (Cli.Cli.Run(["export", folder, "--out", LanguageModel + "/"], new StringWriter(), error) != 0)
            throw new InvalidOperationException($"exporting the test GPT-2 failed: {error}");
    }

    /// <summary>The exported decoder folder.</summary>
    public string LanguageModel { get; }

    /// <summary>The classifier's path and its weights [16, 3] and bias [3]; skips without python3-onnx.</summary>
    public (string Path, float[] Weight, float[] Bias) Classifier()
    {
        Requires.Python("onnx", "numpy");
        string path = System.IO.Path.Combine(temp.Path, "clf.onnx");
        lock (temp)
        {
            if (!File.Exists(path))
            {
                ReferencePython.Run("""
                    import sys, numpy as np, onnx
                    from onnx import helper, TensorProto, numpy_helper
                    rng = np.random.default_rng(3)
                    w = rng.standard_normal((16, 3)).astype(np.float32); b = rng.standard_normal(3).astype(np.float32)
                    nodes = [helper.make_node("Flatten", ["input"], ["flat"], axis=1),
                             helper.make_node("MatMul", ["flat", "w"], ["mm"]), helper.make_node("Add", ["mm", "b"], ["logits"])]
                    graph = helper.make_graph(nodes, "clf", [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 1, 4, 4])],
                        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", 3])], [numpy_helper.from_array(w, "w"), numpy_helper.from_array(b, "b")])
                    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]); model.ir_version = 8
                    onnx.checker.check_model(model); onnx.save(model, sys.argv[1])
                    np.concatenate([w.ravel(), b]).tofile(sys.argv[1] + ".weights")
                    """, path);
            }
        }
        float[] all = ReferencePython.ReadFloats(path + ".weights");
        return (path, all[..48], all[48..]);
    }

    public void Dispose() => temp.Dispose();
}

/// <summary>The serving test classes share one <see cref="ServingModels"/> (the GPT-2 export takes a while).</summary>
[CollectionDefinition(Name)]
public sealed class ServingCollection : ICollectionFixture<ServingModels>
{
    public const string Name = "serving models";
}
