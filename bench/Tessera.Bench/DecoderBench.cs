using System.Diagnostics;
using Microsoft.ML.OnnxRuntime;
using Tessera.Export.Decoders;
using Tessera.Formats.Onnx;
using Tessera.Runtime;
using Tessera.Runtime.Generation;
using Tessera.Runtime.Quantization;
using Tessera.Text.Generation;
using Tessera.Transformers;
using static TorchSharp.torch;
using static Tessera.Bench.BenchStats;

namespace Tessera.Bench;

/// <summary>
/// GPT-2-small-shaped model (124M, random weights), batch 1, in one run:
/// (1) greedy generation tokens/s for TorchSharp (KV cache), ORT fp32 and ORT int8 (<see cref="OrtCausalLM"/> on our
/// export, and on a copy quantized by <see cref="DynamicQuantizer"/>); (2) each one's fraction of the memory-bandwidth
/// bound, from the measured copy bandwidth and the weight bytes read per token; (3) prefill forward latency of our
/// export vs the same weights exported by PyTorch's torch.onnx (bench/gpt2_torch_onnx.py), both in ORT.
/// Contenders run interleaved (A B C, A B C, ...) and report the median, so background load hits them alike.
/// </summary>
static class DecoderBench
{
    public static object Run(int threads, int promptLength, int newTokens, int layers, int rounds, int latencySeq, int latencyRounds, string python, string script, string ompWait)
    {
        // Before libtorch loads (the set_num_threads below); an explicit OMP_WAIT_POLICY in the environment wins.
        string ompPolicy = ompWait == "default" ? Environment.GetEnvironmentVariable("OMP_WAIT_POLICY") ?? "unset" : Tessera.OpenMpWaitPolicy.Prefer(ompWait.ToUpperInvariant());
        Console.WriteLine($"OMP_WAIT_POLICY for libtorch: {ompPolicy}");
        set_num_threads(threads);
        manual_seed(0);
        string dir = Path.Combine(Path.GetTempPath(), "tessera-decoder-bench-" + Guid.NewGuid().ToString("N"));
        string fp32Dir = Path.Combine(dir, "fp32"), int8Dir = Path.Combine(dir, "int8"), nbitsDir = Path.Combine(dir, "nbits"), fusedDir = Path.Combine(dir, "fused"), fusedInt8Dir = Path.Combine(dir, "fused-int8"), weightsDir = Path.Combine(dir, "weights");
        try
        {
            // (2a) bandwidth first, while little else is allocated.
            var (bw1, bw2) = (Bandwidth.CopyBytesPerSecond(512L << 20, 1, 5), Bandwidth.CopyBytesPerSecond(512L << 20, 2, 5));
            double bandwidth = Math.Max(bw1, bw2);
            Console.WriteLine($"copy bandwidth (512 MB buffer, best of 5, bytes read + bytes written): 1 thread {bw1 / 1e9:0.0} GB/s, 2 threads {bw2 / 1e9:0.0} GB/s; bound uses {bandwidth / 1e9:0.0} GB/s");
            double readBandwidth = Math.Max(Bandwidth.ReadBytesPerSecond(512L << 20, 1, 5), Bandwidth.ReadBytesPerSecond(512L << 20, threads, 5));
            Console.WriteLine($"read bandwidth (512 MB buffer summed, best of 5, 1 or {threads} threads): {readBandwidth / 1e9:0.0} GB/s");

            using var model = Gpt2Small(layers);
            var clock = Stopwatch.StartNew();
            var report = DecoderOnnxExporter.Export(model, fp32Dir);
            double exportSeconds = clock.Elapsed.TotalSeconds;
            model.SavePretrained(weightsDir);
            CopyFolder(fp32Dir, int8Dir);
            var quant = DynamicQuantizer.Quantize(report.ModelPath, Path.Combine(int8Dir, OrtCausalLM.ModelFileName));
            CopyFolder(fp32Dir, nbitsDir);
            DynamicQuantizer.Quantize(report.ModelPath, Path.Combine(nbitsDir, OrtCausalLM.ModelFileName), new DynamicQuantizationOptions { Form = QuantizedMatMulForm.MatMulNBits });
            var fusedReport = DecoderOnnxExporter.Export(model, fusedDir, new Tessera.Export.TransformerExportOptions { OrtFusedAttention = true });
            CopyFolder(fusedDir, fusedInt8Dir);
            DynamicQuantizer.Quantize(fusedReport.ModelPath, Path.Combine(fusedInt8Dir, OrtCausalLM.ModelFileName));

            // (2b) weight bytes read per generated token: every weight once (the tied wte is read in full by the head),
            // embedding tables that are only looked up count one row.
            long torchBytes = TorchParameterBytes(model);
            var fp32Weights = InitializerBytes(report.ModelPath);
            var int8Weights = InitializerBytes(Path.Combine(int8Dir, OrtCausalLM.ModelFileName));
            var nbitsWeights = InitializerBytes(Path.Combine(nbitsDir, OrtCausalLM.ModelFileName));
            var fusedInt8Weights = InitializerBytes(Path.Combine(fusedInt8Dir, OrtCausalLM.ModelFileName));

            // (1) greedy generation, interleaved rounds, median.
            int[] prompt = Enumerable.Range(0, promptLength).Select(i => 1 + i * 37 % 50000).ToArray();
            var sessionOptions = new OnnxSessionOptions { IntraOpThreads = threads };
            var settings = new Tessera.Text.Generation.GenerationConfig { MaxNewTokens = newTokens }.WithEosTokenIds([]);
            int[] torchIds = [], loopIds = [], fp32Ids = [], int8Ids = [], nbitsIds = [], fusedIds = [];
            var times = new List<double>[6] { [], [], [], [], [], [] };
            var torchBackend = new TorchCausalLM(model);
            using (var lm32 = OrtCausalLM.Load(fp32Dir, sessionOptions))
            using (var lm8 = OrtCausalLM.Load(int8Dir, sessionOptions))
            using (var lmNbits = OrtCausalLM.Load(nbitsDir, sessionOptions))
            using (var lmFused = OrtCausalLM.Load(fusedInt8Dir, sessionOptions))
            {
                Action[] contenders =
                [
                    () => torchIds = TorchGreedy(model, prompt, newTokens),
                    () => loopIds = torchBackend.GenerateIds(prompt, settings),
                    () => fp32Ids = lm32.GenerateIds(prompt, settings),
                    () => int8Ids = lm8.GenerateIds(prompt, settings),
                    () => nbitsIds = lmNbits.GenerateIds(prompt, settings),
                    () => fusedIds = lmFused.GenerateIds(prompt, settings),
                ];
                foreach (var c in contenders) c(); // warm-up
                for (int r = 0; r < rounds; r++)
                    for (int i = 0; i < contenders.Length; i++) times[i].Add(Time(contenders[i]));
            }
            double[] tokensPerSecond = times.Select(t => newTokens / Median(t)).ToArray();
            long[] bytesPerToken = [torchBytes, torchBytes, fp32Weights.Total, int8Weights.Total, nbitsWeights.Total, fusedInt8Weights.Total];
            double[] fraction = tokensPerSecond.Zip(bytesPerToken, (tps, b) => tps * b / bandwidth).ToArray();
            int int8Agree = fp32Ids.Zip(int8Ids).TakeWhile(p => p.First == p.Second).Count();
            int nbitsAgree = fp32Ids.Zip(nbitsIds).TakeWhile(p => p.First == p.Second).Count();
            int fusedAgree = fp32Ids.Zip(fusedIds).TakeWhile(p => p.First == p.Second).Count();

            // (3) prefill latency: ours vs torch.onnx, same weights, same session options, interleaved.
            string torchOnnx = Path.Combine(dir, "torch_gpt2.onnx");
            string? exportError = RunPython(python, script, weightsDir, torchOnnx, latencySeq);
            double? oursMs = null, theirsMs = null, logitsDiff = null;
            if (exportError is null)
                (oursMs, theirsMs, logitsDiff) = PrefillLatency(report.ModelPath, torchOnnx, threads, latencySeq, latencyRounds);

            string[] names = ["TorchSharp eager (KV cache)", "TorchSharp, shared GenerationLoop", "ORT fp32 (OrtCausalLM)", "ORT int8 (DynamicQuantizeMatMul)", "ORT int8 (MatMulNBits, block 128)", "ORT int8, fused attention"];
            Console.WriteLine($"GPT-2 shape: {layers} layers x 768, vocab 50257; prompt {promptLength}, {newTokens} new tokens, batch 1, {threads} threads, median of {rounds} interleaved rounds");
            foreach (var skipped in quant.SkippedNodes.Take(2)) Console.WriteLine($"  int8 skipped: {skipped}");
            Console.WriteLine($"export {exportSeconds:0.0} s, model.onnx {new FileInfo(report.ModelPath).Length / 1e6:0} MB, int8 {quant.OutputFileBytes / 1e6:0} MB ({quant.QuantizedNodes.Count} MatMul/Gemm quantized, {quant.SkippedNodes.Count} skipped)");
            Console.WriteLine($"{"engine",-34} {"tokens/s",9} {"MB/token",9} {"GB/s",6} {"of copy bound",14} {"of read bound",14}");
            for (int i = 0; i < names.Length; i++)
                Console.WriteLine($"{names[i],-34} {tokensPerSecond[i],9:0.0} {bytesPerToken[i] / 1e6,9:0.0} {tokensPerSecond[i] * bytesPerToken[i] / 1e9,6:0.0} {fraction[i],14:0%} {tokensPerSecond[i] * bytesPerToken[i] / readBandwidth,14:0%}");
            Console.WriteLine($"int8 bytes/token: int8 {int8Weights.Int8 / 1e6:0.0} MB + fp32 {int8Weights.Float / 1e6:0.0} MB (scales and unquantized) + other {int8Weights.Other / 1e6:0.0} MB");
            Console.WriteLine($"MatMulNBits bytes/token: int8 {nbitsWeights.Int8 / 1e6:0.0} MB + fp32 {nbitsWeights.Float / 1e6:0.0} MB (block scales and unquantized)");
            Console.WriteLine($"greedy ids: TorchSharp == ORT fp32: {torchIds.SequenceEqual(fp32Ids)}; shared loop == raw TorchSharp loop: {torchIds.SequenceEqual(loopIds)}; ORT int8 matches fp32 for the first {int8Agree} of {newTokens}, MatMulNBits for the first {nbitsAgree}, fused attention int8 for the first {fusedAgree}");
            if (exportError is null)
                Console.WriteLine($"prefill {latencySeq} tokens, median of {latencyRounds} interleaved: ours {oursMs:0.0} ms, torch.onnx {theirsMs:0.0} ms, ours/theirs {oursMs / theirsMs:0.00}; max |logits diff| {logitsDiff:0.0e+00}");
            else
                Console.WriteLine($"prefill comparison skipped: {exportError}");
            return new
            {
                layers, promptLength, newTokens, threads, rounds, exportSeconds, ompPolicy,
                copyBandwidth1Thread = bw1, copyBandwidth2Threads = bw2, boundBandwidth = bandwidth, readBandwidth,
                torchTokensPerSecond = tokensPerSecond[0], torchGenerationLoopTokensPerSecond = tokensPerSecond[1], torchLoopEqualsRaw = torchIds.SequenceEqual(loopIds),
                ortFp32TokensPerSecond = tokensPerSecond[2], ortInt8TokensPerSecond = tokensPerSecond[3],
                ortNbitsTokensPerSecond = tokensPerSecond[4], ortNbitsBytesPerToken = nbitsWeights.Total, ortNbitsFractionOfBound = fraction[4], nbitsAgreeingPrefix = nbitsAgree,
                ortFusedInt8TokensPerSecond = tokensPerSecond[5], ortFusedInt8BytesPerToken = fusedInt8Weights.Total, ortFusedInt8FractionOfBound = fraction[5], fusedAgreeingPrefix = fusedAgree,
                torchBytesPerToken = torchBytes, ortFp32BytesPerToken = fp32Weights.Total, ortInt8BytesPerToken = int8Weights.Total,
                int8Int8Bytes = int8Weights.Int8, int8FloatBytes = int8Weights.Float,
                torchFractionOfBound = fraction[0], ortFp32FractionOfBound = fraction[2], ortInt8FractionOfBound = fraction[3],
                torchEqualsFp32 = torchIds.SequenceEqual(fp32Ids), int8AgreeingPrefix = int8Agree,
                latencySeq, latencyRounds, oursPrefillMs = oursMs, torchOnnxPrefillMs = theirsMs, prefillLogitsMaxDiff = logitsDiff, exportError,
            };
        }
        finally
        {
            try { Directory.Delete(dir, recursive: true); } catch (IOException) { }
        }
    }

    /// <summary>A GPT-2-small-shaped model (vocab 50257, 1024 positions, 768 wide, 12 heads) in eval mode, random weights from the current seed.</summary>
    internal static Gpt2LMHeadModel Gpt2Small(int layers)
    {
        var model = new Gpt2LMHeadModel(new Gpt2Config { VocabSize = 50257, NPositions = 1024, NEmbd = 768, NLayer = layers, NHead = 12 });
        model.eval();
        return model;
    }

    /// <summary>Copies an exported folder's files except <c>model.onnx</c> (config, generation config) to <paramref name="to"/>.</summary>
    internal static void CopyFolder(string from, string to)
    {
        Directory.CreateDirectory(to);
        foreach (var f in Directory.GetFiles(from))
            if (Path.GetFileName(f) != OrtCausalLM.ModelFileName) File.Copy(f, Path.Combine(to, Path.GetFileName(f)), overwrite: true);
    }

    static long TorchParameterBytes(nn.Module model)
    {
        // GPT-2's head has no parameter of its own (it multiplies by wte), so each parameter is listed once; wpe is only
        // looked up, so it counts one row (as in the ONNX count).
        long total = 0;
        foreach (var (name, p) in model.named_parameters())
            total += name.EndsWith("wpe.weight", StringComparison.Ordinal) ? p.shape[1] * p.element_size() : p.numel() * p.element_size();
        return total;
    }

    /// <summary>
    /// Initializer bytes one generated token reads, by element type (int8/uint8, float32, the rest): a tensor whose only
    /// consumers are Gather nodes (an embedding table looked up, not multiplied: wpe, and the fp32 wte once the int8
    /// head has its own copy) counts one row; every other initializer counts in full.
    /// </summary>
    static (long Total, long Int8, long Float, long Other) InitializerBytes(string path)
    {
        var model = ModelProto.Parser.ParseFrom(File.ReadAllBytes(path));
        var consumers = new Dictionary<string, HashSet<string>>();
        foreach (var node in model.Graph.Node)
            foreach (var input in node.Input)
                (consumers.TryGetValue(input, out var ops) ? ops : consumers[input] = []).Add(node.OpType);
        long i8 = 0, f32 = 0, other = 0;
        foreach (var t in model.Graph.Initializer)
        {
            long n = t.RawData.Length + 4L * t.FloatData.Count + 4L * t.Int32Data.Count + 8L * t.Int64Data.Count;
            if (consumers.TryGetValue(t.Name, out var ops) && ops.All(o => o == "Gather") && t.Dims.Count == 2 && t.Dims[0] > 0)
                n /= t.Dims[0];
            switch ((TensorProto.Types.DataType)t.DataType)
            {
                case TensorProto.Types.DataType.Int8 or TensorProto.Types.DataType.Uint8: i8 += n; break;
                case TensorProto.Types.DataType.Float: f32 += n; break;
                default: other += n; break;
            }
        }
        return (i8 + f32 + other, i8, f32, other);
    }

    static string? RunPython(string python, string script, string weights, string output, int seq)
    {
        if (!File.Exists(script)) return $"script not found: {script}";
        var psi = new ProcessStartInfo(python) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in new[] { script, weights, output, seq.ToString(System.Globalization.CultureInfo.InvariantCulture) }) psi.ArgumentList.Add(a);
        try
        {
            using var p = Process.Start(psi)!;
            var stderr = p.StandardError.ReadToEndAsync();
            Console.Write(p.StandardOutput.ReadToEnd());
            p.WaitForExit();
            return p.ExitCode == 0 && File.Exists(output) ? null : $"{python} {script} failed ({p.ExitCode}): {stderr.Result.Trim().Split('\n').LastOrDefault()}";
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            return $"cannot start {python}: {e.Message}";
        }
    }

    /// <summary>Median ms of one prefill call (batch 1, <paramref name="seq"/> tokens, no past) for each file, interleaved.</summary>
    static (double Ours, double Theirs, double MaxDiff) PrefillLatency(string ours, string theirs, int threads, int seq, int rounds)
    {
        using var so = new SessionOptions
        {
            IntraOpNumThreads = threads, InterOpNumThreads = 1,
            ExecutionMode = Microsoft.ML.OnnxRuntime.ExecutionMode.ORT_SEQUENTIAL,
            GraphOptimizationLevel = Microsoft.ML.OnnxRuntime.GraphOptimizationLevel.ORT_ENABLE_ALL,
        };
        long[] ids = Enumerable.Range(0, seq).Select(i => 1L + i * 37 % 50000).ToArray();
        using var a = new InferenceSession(ours, so);
        using var b = new InferenceSession(theirs, so);
        var runA = Prefill(a, ids);
        var runB = Prefill(b, ids);
        float[] la = runA(), lb = runB();
        for (int i = 0; i < 2; i++) { runA(); runB(); }
        double maxDiff = la.Zip(lb, (x, y) => (double)Math.Abs(x - y)).Max();
        var ta = new List<double>();
        var tb = new List<double>();
        for (int r = 0; r < rounds; r++)
        {
            ta.Add(Time(() => runA()) * 1e3);
            tb.Add(Time(() => runB()) * 1e3);
        }
        return (Median(ta), Median(tb), maxDiff);
    }

    /// <summary>A prefill call for either graph: ids, an all-ones mask, positions 0..n-1, empty pasts; all outputs fetched.</summary>
    internal static Func<float[]> Prefill(InferenceSession session, long[] ids)
    {
        int n = ids.Length;
        var names = new List<string>();
        var values = new List<OrtValue>();
        foreach (var (name, meta) in session.InputMetadata)
        {
            names.Add(name);
            if (name.StartsWith("past_key_values.", StringComparison.Ordinal))
            {
                int[] d = meta.Dimensions;
                values.Add(OrtValue.CreateTensorValueFromMemory(Array.Empty<float>(), [1, d[1], 0, d[3]]));
            }
            else if (name is "input_ids" or "ids") values.Add(OrtValue.CreateTensorValueFromMemory(ids, [1, n]));
            else if (name == "position_ids") values.Add(OrtValue.CreateTensorValueFromMemory(Enumerable.Range(0, n).Select(i => (long)i).ToArray(), [1, n]));
            else values.Add(OrtValue.CreateTensorValueFromMemory(Enumerable.Repeat(1L, n).ToArray(), [1, n])); // attention mask
        }
        var outputs = session.OutputMetadata.Keys.ToList();
        int logits = outputs.IndexOf("logits");
        var runOptions = new RunOptions();
        return () =>
        {
            using var results = session.Run(runOptions, names, values, outputs);
            var span = results[logits].GetTensorDataAsSpan<float>();
            return span[^50257..].ToArray(); // last position's logits
        };
    }

    internal static int[] TorchGreedy(CausalLanguageModel model, int[] prompt, int newTokens)
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

    static double Time(Action run)
    {
        var clock = Stopwatch.StartNew();
        run();
        return clock.Elapsed.TotalSeconds;
    }

}

/// <summary>Copy bandwidth of this machine, measured with <see cref="Buffer.MemoryCopy"/>.</summary>
static class Bandwidth
{
    /// <summary>
    /// Copies a <paramref name="bytes"/>-byte buffer into another, split over <paramref name="threads"/> threads, best of
    /// <paramref name="repeats"/>; returns (bytes read + bytes written) / seconds, i.e. 2 x size / time.
    /// </summary>
    /// <summary>
    /// Reads a <paramref name="bytes"/>-byte buffer (summing it with SIMD), split over <paramref name="threads"/> threads,
    /// best of <paramref name="repeats"/>; returns bytes read / seconds. Weights are only read while decoding, so this is
    /// the tighter bound; the copy figure is the one the targets are stated against.
    /// </summary>
    public static unsafe double ReadBytesPerSecond(long bytes, int threads, int repeats)
    {
        byte* src = (byte*)System.Runtime.InteropServices.NativeMemory.AlignedAlloc((nuint)bytes, 4096);
        try
        {
            for (long o = 0; o < bytes; o += int.MaxValue)
                new Span<byte>(src + o, (int)Math.Min(int.MaxValue, bytes - o)).Fill(1);
            long chunk = bytes / threads / 64 * 64;
            nint s = (nint)src;
            double best = double.MaxValue;
            long sink = 0;
            for (int r = 0; r < repeats; r++)
            {
                var clock = Stopwatch.StartNew();
                Parallel.For(0, threads, new ParallelOptions { MaxDegreeOfParallelism = threads }, t =>
                {
                    var p = (System.Numerics.Vector<long>*)(s + t * chunk);
                    var acc = System.Numerics.Vector<long>.Zero;
                    long n = chunk / sizeof(System.Numerics.Vector<long>);
                    for (long i = 0; i < n; i++) acc += p[i];
                    Interlocked.Add(ref sink, System.Numerics.Vector.Sum(acc));
                });
                best = Math.Min(best, clock.Elapsed.TotalSeconds);
            }
            GC.KeepAlive(sink);
            return (double)chunk * threads / best;
        }
        finally
        {
            System.Runtime.InteropServices.NativeMemory.AlignedFree(src);
        }
    }

    public static unsafe double CopyBytesPerSecond(long bytes, int threads, int repeats)
    {
        byte* src = (byte*)System.Runtime.InteropServices.NativeMemory.AlignedAlloc((nuint)bytes, 4096);
        byte* dst = (byte*)System.Runtime.InteropServices.NativeMemory.AlignedAlloc((nuint)bytes, 4096);
        try
        {
            for (long o = 0; o < bytes; o += int.MaxValue) // touch the pages so the copy does not time page faults
                new Span<byte>(src + o, (int)Math.Min(int.MaxValue, bytes - o)).Fill(1);
            Buffer.MemoryCopy(src, dst, bytes, bytes);
            long chunk = bytes / threads;
            nint s = (nint)src, d = (nint)dst;
            double best = double.MaxValue;
            for (int r = 0; r < repeats; r++)
            {
                var clock = Stopwatch.StartNew();
                Parallel.For(0, threads, new ParallelOptions { MaxDegreeOfParallelism = threads }, t =>
                    Buffer.MemoryCopy((byte*)(s + t * chunk), (byte*)(d + t * chunk), chunk, chunk));
                best = Math.Min(best, clock.Elapsed.TotalSeconds);
            }
            return 2.0 * chunk * threads / best;
        }
        finally
        {
            System.Runtime.InteropServices.NativeMemory.AlignedFree(src);
            System.Runtime.InteropServices.NativeMemory.AlignedFree(dst);
        }
    }
}
