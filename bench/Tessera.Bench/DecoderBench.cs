using System.Diagnostics;
using Tessera.Export;
using Tessera.Export.Decoders;
using Tessera.Runtime;
using Tessera.Runtime.Generation;
using Tessera.Transformers;
using static TorchSharp.torch;

namespace Tessera.Bench;

/// <summary>
/// Greedy generation on a GPT-2-small-shaped model (124M, random weights), batch 1: TorchSharp with the KV cache vs
/// the exported decoder in ONNX Runtime (<see cref="OrtCausalLM"/>), same prompt and token count; also export time and size.
/// </summary>
static class DecoderBench
{
    public static object Run(int threads, int promptLength, int newTokens, int layers)
    {
        set_num_threads(threads);
        manual_seed(0);
        using var model = new Gpt2LMHeadModel(new Gpt2Config { VocabSize = 50257, NPositions = 1024, NEmbd = 768, NLayer = layers, NHead = 12 });
        model.eval();
        string dir = Path.Combine(Path.GetTempPath(), "tessera-decoder-bench-" + Guid.NewGuid().ToString("N"));
        try
        {
            var clock = Stopwatch.StartNew();
            var report = DecoderOnnxExporter.Export(model, dir);
            double exportSeconds = clock.Elapsed.TotalSeconds;
            long bytes = new FileInfo(report.ModelPath).Length;
            int[] prompt = Enumerable.Range(0, promptLength).Select(i => 1 + i * 37 % 50000).ToArray();

            int[] torchIds = [];
            double torchSeconds = Best(3, () => torchIds = TorchGreedy(model, prompt, newTokens));
            using var lm = OrtCausalLM.Load(dir, new OnnxSessionOptions { IntraOpThreads = threads });
            var settings = new OrtGenerationSettings { MaxNewTokens = newTokens, EosTokenIds = [] };
            int[] ortIds = [];
            double ortSeconds = Best(3, () => ortIds = lm.Generate(prompt, settings));
            bool same = torchIds.SequenceEqual(ortIds);

            Console.WriteLine($"GPT-2 shape: {layers} layers x 768, vocab 50257; prompt {promptLength}, {newTokens} new tokens, batch 1, {threads} threads");
            Console.WriteLine($"export: {exportSeconds:0.0} s, model.onnx {bytes / 1e6:0} MB, verified max abs prefill {report.PrefillMaxAbs:0.0e+00} decode {report.DecodeMaxAbs:0.0e+00}");
            Console.WriteLine($"{"engine",-28} {"seconds",8} {"tokens/s",9}");
            Console.WriteLine($"{"TorchSharp (KV cache)",-28} {torchSeconds,8:0.000} {newTokens / torchSeconds,9:0.0}");
            Console.WriteLine($"{"ONNX Runtime (OrtCausalLM)",-28} {ortSeconds,8:0.000} {newTokens / ortSeconds,9:0.0}");
            Console.WriteLine($"same greedy ids: {same}");
            return new
            {
                layers, promptLength, newTokens, threads, exportSeconds, modelBytes = bytes,
                report.PrefillMaxAbs, report.DecodeMaxAbs,
                torchSeconds, torchTokensPerSecond = newTokens / torchSeconds,
                ortSeconds, ortTokensPerSecond = newTokens / ortSeconds, sameIds = same,
            };
        }
        finally
        {
            try { Directory.Delete(dir, recursive: true); } catch (IOException) { }
        }
    }

    static int[] TorchGreedy(CausalLanguageModel model, int[] prompt, int newTokens)
    {
        using var noGrad = no_grad();
        using var cache = new KeyValueCache(model.NumLayers);
        var result = new int[newTokens];
        Tensor input = tensor(prompt.Select(i => (long)i).ToArray(), [1, prompt.Length]);
        for (int t = 0; t < newTokens; t++)
        {
            using var scope = NewDisposeScope();
            var output = model.forward(input, null, cache);
            int next = (int)output.Logits.select(1, -1).argmax(-1).item<long>();
            result[t] = next;
            input = tensor(new long[] { next }, [1, 1]).MoveToOuterDisposeScope();
        }
        return result;
    }

    static double Best(int rounds, Action run)
    {
        double best = double.MaxValue;
        for (int i = 0; i < rounds; i++)
        {
            var clock = Stopwatch.StartNew();
            run();
            best = Math.Min(best, clock.Elapsed.TotalSeconds);
        }
        return best;
    }
}
