using System.Diagnostics;
using System.Text.Json;
using Tessera.Export.Decoders;
using Tessera.Runtime;
using Tessera.Runtime.Generation;
using Tessera.Text.Generation;
using Tessera.Runtime.Quantization;
using Tessera.Transformers;
using static TorchSharp.torch;

namespace Tessera.Bench;

/// <summary>
/// Where ORT's time goes in greedy generation with the GPT-2-small-shaped export: runs <see cref="OrtCausalLM"/> with
/// ONNX Runtime's profiler on the fp32 and int8 models and sums kernel time per operator type, per generated token.
/// The models are made once into <c>--dir</c> (export + quantize) and reused by later runs.
/// </summary>
static class DecoderProfile
{
    public static object Run(string dir, int threads, int promptLength, int newTokens, int layers, string variants, string? torchOnnx, int prefillSeq)
    {
        Prepare(dir, layers);
        int[] prompt = Enumerable.Range(0, promptLength).Select(i => 1 + i * 37 % 50000).ToArray();
        var settings = new Tessera.Text.Generation.GenerationConfig { MaxNewTokens = newTokens }.WithEosTokenIds([]);
        var results = new Dictionary<string, object>();
        foreach (string variant in variants.Split(',', StringSplitOptions.RemoveEmptyEntries))
        {
            if (variant.StartsWith("nbits-", StringComparison.Ordinal)) PrepareNbits(dir, variant);
            if (variant == "torch-llama")
            {
                // SmolLM-135M's shape (random weights): 30 layers x 576, 9 heads / 3 kv heads, MLP 1536, vocab 49152, tied.
                set_num_threads(threads);
                manual_seed(0);
                using var llama = new LlamaForCausalLM(new LlamaConfig
                {
                    VocabSize = 49152, HiddenSize = 576, IntermediateSize = 1536, NumHiddenLayers = 30, NumAttentionHeads = 9,
                    NumKeyValueHeads = 3, MaxPositionEmbeddings = 2048, TieWordEmbeddings = true,
                });
                llama.eval();
                long bytes = llama.parameters().Sum(p => p.numel()) * 4;
                var best = new double[2];
                foreach (bool on in new[] { true, false, true, false, true, false })
                {
                    Tessera.Transformers.DecodeMatMul.Enabled = on;
                    DecoderBench.TorchGreedy(llama, prompt, 4);
                    var c = Stopwatch.StartNew();
                    DecoderBench.TorchGreedy(llama, prompt, newTokens);
                    best[on ? 0 : 1] = Math.Max(best[on ? 0 : 1], newTokens / c.Elapsed.TotalSeconds);
                }
                Tessera.Transformers.DecodeMatMul.Enabled = true;
                Console.WriteLine($"torch-llama (SmolLM-135M shape, {bytes / 1e6:0} MB, {threads} threads, OMP_WAIT_POLICY={Environment.GetEnvironmentVariable("OMP_WAIT_POLICY") ?? "unset"}): " +
                    $"decode kernels {best[0]:0.0} tokens/s, libtorch only {best[1]:0.0} tokens/s (best of 3, interleaved)");
                results[variant] = new { withKernels = best[0], libtorchOnly = best[1], weightBytes = bytes };
                continue;
            }
            if (variant == "torch")
            {
                set_num_threads(threads);
                using var model = DecoderBench.Gpt2Small(layers);
                DecoderBench.TorchGreedy(model, prompt, newTokens);
                var times = new List<double>();
                var kernelShare = new List<double>();
                for (int r = 0; r < 3; r++)
                {
                    long ticks = Tessera.Transformers.DecodeMatMul.KernelTicks;
                    var c = Stopwatch.StartNew();
                    DecoderBench.TorchGreedy(model, prompt, newTokens);
                    times.Add(c.Elapsed.TotalSeconds);
                    kernelShare.Add((Tessera.Transformers.DecodeMatMul.KernelTicks - ticks) / (double)Stopwatch.Frequency / c.Elapsed.TotalSeconds);
                }
                Console.WriteLine($"torch: decode kernels take {kernelShare.Average():0%} of the greedy loop's time (incl. the 16-token prefill's libtorch products outside them)");
                double best = times.Min();
                Console.WriteLine($"torch ({threads} threads, OMP_WAIT_POLICY={Environment.GetEnvironmentVariable("OMP_WAIT_POLICY") ?? "unset"}): {newTokens / best:0.0} tokens/s best of 3 ({string.Join(", ", times.Select(t => $"{newTokens / t:0.0}"))})");
                results[variant] = new { tokensPerSecond = newTokens / best };
                continue;
            }
            string prefix = Path.Combine(dir, $"profile-{variant}");
            double seconds;
            using (var lm = OrtCausalLM.Load(Path.Combine(dir, variant), new OnnxSessionOptions { IntraOpThreads = threads, ProfileFilePrefix = prefix }))
            {
                lm.GenerateIds(prompt, settings);
                var clock = Stopwatch.StartNew();
                lm.GenerateIds(prompt, settings);
                seconds = clock.Elapsed.TotalSeconds;
            }
            string file = Directory.GetFiles(dir, $"profile-{variant}*.json").OrderByDescending(File.GetLastWriteTimeUtc).First();
            var (byOp, runs, runMicros) = Aggregate(file);
            File.Delete(file);
            double perToken = 1e6 * seconds / newTokens;
            double kernels = byOp.Values.Sum();
            Console.WriteLine($"{variant}: {newTokens / seconds:0.0} tokens/s ({perToken / 1e3:0.00} ms/token wall); per ORT run: {runMicros / runs / 1e3:0.00} ms in Run, {kernels / runs / 1e3:0.00} ms in kernels ({runs} runs, 2 generations)");
            foreach (var (op, micros) in byOp.OrderByDescending(kv => kv.Value).Take(14))
                Console.WriteLine($"  {op,-28} {micros / runs / 1e3,8:0.000} ms/run {micros / kernels,7:0.0%}");
            results[variant] = new { tokensPerSecond = newTokens / seconds, runMs = runMicros / runs / 1e3, kernelMs = kernels / runs / 1e3, byOp = byOp.ToDictionary(kv => kv.Key, kv => kv.Value / runs / 1e3) };
        }
        if (torchOnnx is not null)
            foreach (var (name, file) in new[] { ("prefill-ours", Path.Combine(dir, "fp32", OrtCausalLM.ModelFileName)), ("prefill-torch", torchOnnx) })
                results[name] = ProfilePrefill(name, file, Path.Combine(dir, $"profile-{name}"), threads, prefillSeq);
        return results;
    }

    /// <summary>Kernel time per operator type of one prefill call (no past), averaged over 5 calls after 2 warm-ups.</summary>
    static object ProfilePrefill(string name, string model, string prefix, int threads, int seq)
    {
        using var so = new Microsoft.ML.OnnxRuntime.SessionOptions
        {
            IntraOpNumThreads = threads, InterOpNumThreads = 1,
            ExecutionMode = Microsoft.ML.OnnxRuntime.ExecutionMode.ORT_SEQUENTIAL,
            GraphOptimizationLevel = Microsoft.ML.OnnxRuntime.GraphOptimizationLevel.ORT_ENABLE_ALL,
            ProfileOutputPathPrefix = prefix,
        };
        so.EnableProfiling = true;
        long[] ids = Enumerable.Range(0, seq).Select(i => 1L + i * 37 % 50000).ToArray();
        using (var session = new Microsoft.ML.OnnxRuntime.InferenceSession(model, so))
        {
            var run = DecoderBench.Prefill(session, ids);
            for (int i = 0; i < 7; i++) run();
        }
        string file = Directory.GetFiles(Path.GetDirectoryName(prefix)!, Path.GetFileName(prefix) + "*.json").OrderByDescending(File.GetLastWriteTimeUtc).First();
        var (byOp, runs, runMicros) = Aggregate(file);
        File.Delete(file);
        double kernels = byOp.Values.Sum();
        Console.WriteLine($"{name}: {runMicros / runs / 1e3:0.00} ms per Run, {kernels / runs / 1e3:0.00} ms in kernels ({runs} runs incl. 2 warm-ups)");
        foreach (var (op, micros) in byOp.OrderByDescending(kv => kv.Value).Take(14))
            Console.WriteLine($"  {op,-28} {micros / runs / 1e3,8:0.000} ms/run {micros / kernels,7:0.0%}");
        return new { runMs = runMicros / runs / 1e3, kernelMs = kernels / runs / 1e3, byOp = byOp.ToDictionary(kv => kv.Key, kv => kv.Value / runs / 1e3) };
    }

    /// <summary>Exports the GPT-2-small-shaped model (seed 0) to <c>dir/fp32</c> (weights to <c>dir/weights</c>) and its int8 copies to <c>dir/int8</c> and <c>dir/nbits</c>, each unless present.</summary>
    public static void Prepare(string dir, int layers)
    {
        string fp32 = Path.Combine(dir, "fp32");
        string fp32Model = Path.Combine(fp32, OrtCausalLM.ModelFileName);
        if (!File.Exists(fp32Model))
        {
            manual_seed(0);
            using var model = DecoderBench.Gpt2Small(layers);
            DecoderOnnxExporter.Export(model, fp32);
            model.SavePretrained(Path.Combine(dir, "weights")); // for bench/gpt2_torch_onnx.py
        }
        string fusedModel = Path.Combine(dir, "fused", OrtCausalLM.ModelFileName);
        if (!File.Exists(fusedModel))
        {
            manual_seed(0);
            using var model = DecoderBench.Gpt2Small(layers);
            DecoderOnnxExporter.Export(model, Path.Combine(dir, "fused"), new Tessera.Export.TransformerExportOptions { OrtFusedAttention = true });
        }
        foreach (var (name, form, source) in new[] { ("int8", QuantizedMatMulForm.DynamicQuantizeMatMul, fp32Model), ("nbits", QuantizedMatMulForm.MatMulNBits, fp32Model), ("fused-int8", QuantizedMatMulForm.DynamicQuantizeMatMul, fusedModel) })
        {
            string folder = Path.Combine(dir, name);
            if (File.Exists(Path.Combine(folder, OrtCausalLM.ModelFileName))) continue;
            DecoderBench.CopyFolder(fp32, folder);
            DynamicQuantizer.Quantize(source, Path.Combine(folder, OrtCausalLM.ModelFileName), new DynamicQuantizationOptions { Form = form });
        }
    }

    /// <summary>
    /// MatMulNBits experiments: <c>nbits-b{block}</c> (block size) and <c>nbits-acc{level}</c> (accuracy_level, block
    /// 128), quantized from <c>dir/fp32</c> unless present.
    /// </summary>
    static void PrepareNbits(string dir, string variant)
    {
        string folder = Path.Combine(dir, variant), model = Path.Combine(folder, OrtCausalLM.ModelFileName);
        if (File.Exists(model)) return;
        int block = variant.StartsWith("nbits-b", StringComparison.Ordinal) ? int.Parse(variant["nbits-b".Length..]) : 128;
        string fp32 = Path.Combine(dir, "fp32");
        DecoderBench.CopyFolder(fp32, folder);
        DynamicQuantizer.Quantize(Path.Combine(fp32, OrtCausalLM.ModelFileName), model, new DynamicQuantizationOptions { Form = QuantizedMatMulForm.MatMulNBits, BlockSize = block });
        if (variant.StartsWith("nbits-acc", StringComparison.Ordinal))
        {
            var proto = Tessera.Formats.Onnx.ModelProto.Parser.ParseFrom(File.ReadAllBytes(model));
            foreach (var node in proto.Graph.Node.Where(n => n.OpType == "MatMulNBits"))
                node.Attribute.First(a => a.Name == "accuracy_level").I = long.Parse(variant["nbits-acc".Length..]);
            File.WriteAllBytes(model, Google.Protobuf.MessageExtensions.ToByteArray(proto));
        }
    }

    /// <summary>Kernel microseconds per operator type, the number of session runs, and their total microseconds.</summary>
    static (Dictionary<string, double> ByOp, int Runs, double RunMicros) Aggregate(string file)
    {
        var byNode = new Dictionary<string, double>();
        using var doc = JsonDocument.Parse(File.ReadAllText(file));
        var byOp = new Dictionary<string, double>();
        int runs = 0;
        double runMicros = 0;
        foreach (var e in doc.RootElement.EnumerateArray())
        {
            string cat = e.GetProperty("cat").GetString()!, name = e.GetProperty("name").GetString()!;
            double dur = e.TryGetProperty("dur", out var d) ? d.GetDouble() : 0;
            if (cat == "Session" && name == "model_run") { runs++; runMicros += dur; }
            else if (cat == "Node" && name.EndsWith("_kernel_time", StringComparison.Ordinal)
                && e.TryGetProperty("args", out var a) && a.TryGetProperty("op_name", out var op))
            {
                byOp[op.GetString()!] = byOp.GetValueOrDefault(op.GetString()!) + dur;
                string node = $"{op.GetString()} {name[..^"_kernel_time".Length]}";
                byNode[node] = byNode.GetValueOrDefault(node) + dur;
            }
        }
        foreach (var (node, micros) in byNode.OrderByDescending(kv => kv.Value).Take(6))
            Console.WriteLine($"    slowest node: {node} {micros / Math.Max(1, runs) / 1e3:0.000} ms/run");
        return (byOp, Math.Max(1, runs), runMicros);
    }
}
