using System.Diagnostics;
using System.Globalization;
using Microsoft.ML.OnnxRuntime;
using Tessera.Data;
using Tessera.Export;
using Tessera.Models;
using Tessera.Runtime;
using Tessera.Runtime.Benchmarking;
using Tessera.Runtime.Quantization;
using TorchSharp;
using static TorchSharp.torch;

namespace Tessera.Bench;

/// <summary>
/// The ONNX issue's targets, side by side in one run, every backend on the same number of threads:
/// (a) cnn batch 1, ORT fp32 vs TorchSharp eager; (b) a transformer-shaped MLP stack, TorchSharp eager vs ORT fp32 vs
/// ORT int8 (latency and file size); (c) OnnxModel.Run and InferenceBuffers vs a bare InferenceSession on the same
/// file; (d) Fashion-MNIST accuracy of a trained cnn folder in fp32 and int8 (with --model-folder).
/// </summary>
static class OnnxBench
{
    const int Blocks = 12, Width = 768, Hidden = 3072, Rows = 128;

    /// <summary>One row of the printed table.</summary>
    sealed record Line(string Part, string Contender, double P50Ms, double P95Ms, double P99Ms, string Versus, double? Ratio, string Target, bool? Met);

    public static object Run(int threads, int rounds, string? modelFolder)
    {
        set_num_threads(threads);
        var ortOptions = new OnnxSessionOptions { IntraOpThreads = threads };
        string dir = Directory.CreateTempSubdirectory("tessera-onnx-bench-").FullName;
        var lines = new List<Line>();
        var notes = new List<string>();
        try
        {
            // (a) cnn batch 1: TorchSharp eager vs ORT fp32 through InferenceBuffers, same random-init weights.
            manual_seed(0);
            using var cnn = new Cnn(new CnnConfig());
            cnn.eval();
            string cnnPath = Path.Combine(dir, "cnn.onnx");
            using (var sample = randn(1, 1, 28, 28)) OnnxExporter.Export(cnn, sample, cnnPath);
            using var cnnOrt = OnnxModel.Load(cnnPath, ortOptions);
            using var cnnInput = randn(1, 1, 28, 28);
            using var cnnBuffers = Buffers(cnnOrt, cnnInput);
            var a = Interleave(new()
            {
                ["torchsharp"] = TorchCall(cnn, cnnInput),
                ["ort-fp32"] = cnnBuffers.Run,
            }, warmup: 50, rounds, callsPerRound: 200);
            lines.Add(Row("(a) cnn, batch 1", "TorchSharp eager", a["torchsharp"], null, null, "", null));
            lines.Add(Row("(a) cnn, batch 1", "ORT fp32", a["ort-fp32"], "TorchSharp", a["torchsharp"].P50Ms / a["ort-fp32"].P50Ms, ">= 2x faster", 2));

            // (b) 12 x (LayerNorm -> Linear 768->3072 -> GELU -> Linear 3072->768, + residual), input [1, 128, 768].
            manual_seed(0);
            using var stack = MlpStack();
            stack.eval();
            string fp32Path = Path.Combine(dir, "mlp.onnx"), int8Path = Path.Combine(dir, "mlp.int8.onnx");
            var clock = Stopwatch.StartNew();
            OnnxExportReport export;
            using (var sample = randn(1, Rows, Width)) export = OnnxExporter.Export(stack, sample, fp32Path, new OnnxExportOptions { AbsoluteTolerance = 1e-3 });
            Console.WriteLine($"exported the MLP stack in {clock.Elapsed.TotalSeconds:0.0}s: {export.NodeCount} nodes, max abs error {export.MaxAbsoluteError:0.0e+00}");
            var quantization = DynamicQuantizer.Quantize(fp32Path, int8Path);
            using var mlpFp32 = OnnxModel.Load(fp32Path, ortOptions);
            using var mlpInt8 = OnnxModel.Load(int8Path, ortOptions);
            using var mlpInput = randn(1, Rows, Width);
            using var fp32Buffers = Buffers(mlpFp32, mlpInput);
            using var int8Buffers = Buffers(mlpInt8, mlpInput);
            var b = Interleave(new()
            {
                ["torchsharp"] = TorchCall(stack, mlpInput),
                ["ort-fp32"] = fp32Buffers.Run,
                ["ort-int8"] = int8Buffers.Run,
            }, warmup: 3, rounds * 2, callsPerRound: 2);
            const string partB = "(b) MLP stack 12x768/3072, [1,128,768]";
            lines.Add(Row(partB, "TorchSharp eager", b["torchsharp"], null, null, "", null));
            lines.Add(Row(partB, "ORT fp32", b["ort-fp32"], "TorchSharp", b["torchsharp"].P50Ms / b["ort-fp32"].P50Ms, ">= 2.5x faster", 2.5));
            lines.Add(Row(partB, "ORT int8 (dynamic)", b["ort-int8"], "ORT fp32", b["ort-fp32"].P50Ms / b["ort-int8"].P50Ms, ">= 1.8x faster", 1.8));
            double sizeRatio = (double)quantization.OutputFileBytes / quantization.InputFileBytes;
            lines.Add(new Line(partB, $"int8 file {quantization.OutputFileBytes / 1e6:0.0} MB vs fp32 {quantization.InputFileBytes / 1e6:0.0} MB",
                double.NaN, double.NaN, double.NaN, "fp32 size", sizeRatio, "<= 0.3x", sizeRatio <= 0.3));

            // (c) The runtime's own cost: the same cnn file through a bare InferenceSession (same session options).
            foreach (int batch in new[] { 1, 32 })
            {
                using var input = randn(batch, 1, 28, 28);
                var pixels = input.data<float>().ToArray();
                long[] shape = [batch, 1, 28, 28];
                using var buffers = Buffers(cnnOrt, input);
                using var direct = new DirectSession(cnnPath, threads, cnnOrt.Inputs[0].Name, cnnOrt.Outputs[0].Name);
                var named = new Dictionary<string, NamedTensor> { [cnnOrt.Inputs[0].Name] = new NamedTensor(pixels, shape) };
                var c = Interleave(new()
                {
                    ["direct"] = () => direct.Run(pixels, shape),
                    ["run"] = () => cnnOrt.Run(named),
                    ["buffers"] = () => { buffers.Run(); _ = buffers.Output<float>(cnnOrt.Outputs[0].Name)[0]; },
                }, warmup: 50, rounds * 8, callsPerRound: batch == 1 ? 50 : 15);
                string part = $"(c) runtime overhead, cnn batch {batch}";
                lines.Add(Row(part, "InferenceSession.Run (direct)", c["direct"], null, null, "", null));
                lines.Add(Row(part, "OnnxModel.Run", c["run"], "direct", c["run"].P50Ms / c["direct"].P50Ms, "<= 1.03x time", 1.03, lowerIsBetter: true));
                lines.Add(Row(part, "InferenceBuffers.Run", c["buffers"], "direct", c["buffers"].P50Ms / c["direct"].P50Ms, "<= 1.03x time", 1.03, lowerIsBetter: true));
            }

            // (d) Accuracy of a trained cnn folder, fp32 vs int8.
            object? accuracy = null;
            if (modelFolder is null) notes.Add("(d) skipped: pass --model-folder DIR (a trained cnn folder, e.g. from `tessera train fashion-mnist --model cnn`)");
            else accuracy = AccuracyFp32VsInt8(modelFolder, dir, ortOptions, lines);

            Print(lines, notes, threads, rounds);
            return new
            {
                threads, rounds, ort_version = typeof(InferenceSession).Assembly.GetName().Version?.ToString(),
                rows = lines.Select(l => new { part = l.Part, contender = l.Contender, p50_ms = Nan(l.P50Ms), p95_ms = Nan(l.P95Ms), p99_ms = Nan(l.P99Ms),
                    versus = l.Versus, ratio = l.Ratio, target = l.Target, met = l.Met }),
                mlp_fp32_file_bytes = quantization.InputFileBytes, mlp_int8_file_bytes = quantization.OutputFileBytes,
                mlp_export_max_abs_error = export.MaxAbsoluteError, accuracy, notes,
            };
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    static double? Nan(double v) => double.IsNaN(v) ? null : v;

    static Line Row(string part, string contender, LatencyResult r, string? versus, double? ratio, string target, double? threshold, bool lowerIsBetter = false) =>
        new(part, contender, r.P50Ms, r.P95Ms, r.P99Ms, versus ?? "", ratio, target,
            threshold is { } t && ratio is { } x ? (lowerIsBetter ? x <= t : x >= t) : null);

    /// <summary>
    /// Warms every contender up, then runs them in turn, <paramref name="callsPerRound"/> timed calls each per round;
    /// each round starts with the next contender, so none always runs first (after another's cache footprint).
    /// </summary>
    static Dictionary<string, LatencyResult> Interleave(Dictionary<string, Action> contenders, int warmup, int rounds, int callsPerRound)
    {
        var times = contenders.Keys.ToDictionary(k => k, _ => new List<double>());
        var order = contenders.ToArray();
        foreach (var run in contenders.Values)
            for (int i = 0; i < warmup; i++) run();
        for (int r = 0; r < rounds; r++)
            for (int k = 0; k < order.Length; k++)
            {
                var (name, run) = order[(r + k) % order.Length];
                for (int i = 0; i < callsPerRound; i++)
                {
                    long start = Stopwatch.GetTimestamp();
                    run();
                    times[name].Add(Stopwatch.GetElapsedTime(start).TotalMilliseconds);
                }
            }
        return times.ToDictionary(kv => kv.Key, kv => LatencyBenchmark.Summarize(kv.Value, 1));
    }

    static Action TorchCall(nn.Module<Tensor, Tensor> model, Tensor input) => () =>
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        model.call(input);
    };

    static InferenceBuffers Buffers(OnnxModel model, Tensor input)
    {
        var buffers = model.CreateBuffers(new Dictionary<string, long[]> { [model.Inputs[0].Name] = input.shape });
        input.data<float>().CopyTo(buffers.Input<float>(model.Inputs[0].Name));
        return buffers;
    }

    static nn.Module<Tensor, Tensor> MlpStack() =>
        nn.Sequential(Enumerable.Range(0, Blocks).Select(i => ((string)$"{i}", (nn.Module<Tensor, Tensor>)new MlpBlock())).ToArray());

    /// <summary>A pre-norm transformer MLP block with its residual: <c>x + fc2(gelu(fc1(norm(x))))</c>.</summary>
    sealed class MlpBlock : nn.Module<Tensor, Tensor>, IOnnxEmitter
    {
        readonly nn.Module<Tensor, Tensor> norm = nn.LayerNorm(Width), fc1 = nn.Linear(Width, Hidden), act = nn.GELU(), fc2 = nn.Linear(Hidden, Width);

        public MlpBlock() : base(nameof(MlpBlock)) => RegisterComponents();

        public override Tensor forward(Tensor x) => x + fc2.call(act.call(fc1.call(norm.call(x))));

        public string EmitOnnx(OnnxExportContext context, string input)
        {
            string h = context.EmitModule(norm, input, "norm");
            h = context.EmitModule(fc1, h, "fc1");
            h = context.EmitModule(act, h, "act");
            h = context.EmitModule(fc2, h, "fc2");
            return context.Binary("Add", input, h);
        }
    }

    /// <summary>What a user writing ONNX Runtime code by hand does per call: wrap the input, run, copy the output out.</summary>
    sealed class DirectSession : IDisposable
    {
        readonly InferenceSession session;
        readonly RunOptions runOptions = new();
        readonly string[] inputNames, outputNames;

        public DirectSession(string path, int threads, string input, string output)
        {
            using var options = new SessionOptions { IntraOpNumThreads = threads, GraphOptimizationLevel = Microsoft.ML.OnnxRuntime.GraphOptimizationLevel.ORT_ENABLE_ALL, ExecutionMode = Microsoft.ML.OnnxRuntime.ExecutionMode.ORT_SEQUENTIAL };
            session = new InferenceSession(path, options);
            inputNames = [input];
            outputNames = [output];
        }

        public float[] Run(float[] pixels, long[] shape)
        {
            using var value = OrtValue.CreateTensorValueFromMemory(pixels, shape);
            using var results = session.Run(runOptions, inputNames, [value], outputNames);
            return results[0].GetTensorDataAsSpan<float>().ToArray();
        }

        public void Dispose()
        {
            session.Dispose();
            runOptions.Dispose();
        }
    }

    static object AccuracyFp32VsInt8(string folder, string dir, OnnxSessionOptions options, List<Line> lines)
    {
        string fp32Path = Path.Combine(dir, "trained.onnx"), int8Path = Path.Combine(dir, "trained.int8.onnx");
        OnnxExporter.ExportFolder(folder, fp32Path);
        var report = DynamicQuantizer.Quantize(fp32Path, int8Path);
        using var test = FashionMnist.Load(train: false);
        var pixels = test.Inputs.contiguous().data<float>().ToArray();
        var labels = test.Targets.data<long>().ToArray();
        using var fp32 = OnnxModel.Load(fp32Path, options);
        using var int8 = OnnxModel.Load(int8Path, options);
        double before = Accuracy(fp32, pixels, labels), after = Accuracy(int8, pixels, labels);
        double drop = (before - after) * 100;
        lines.Add(new Line("(d) Fashion-MNIST cnn accuracy", $"fp32 {before:0.0000} -> int8 {after:0.0000} ({report.NodesQuantized} Gemm/MatMul quantized)",
            double.NaN, double.NaN, double.NaN, "", drop, "drop <= 0.5 points", drop <= 0.5));
        return new { folder, fp32 = before, int8 = after, drop_points = drop, nodes_quantized = report.NodesQuantized };
    }

    static double Accuracy(OnnxModel model, float[] pixels, long[] labels)
    {
        const int batch = 500, size = 28 * 28;
        int correct = 0;
        for (int start = 0; start < labels.Length; start += batch)
        {
            int n = Math.Min(batch, labels.Length - start);
            var probabilities = model.PredictProbabilities(pixels.AsSpan(start * size, n * size), n, 28, 28, 1);
            for (int i = 0; i < n; i++)
                if (Array.IndexOf(probabilities[i], probabilities[i].Max()) == labels[start + i]) correct++;
        }
        return (double)correct / labels.Length;
    }

    static void Print(List<Line> lines, List<string> notes, int threads, int rounds)
    {
        static string Ms(double v) => double.IsNaN(v) ? "" : v.ToString(v < 10 ? "0.000" : "0.0", CultureInfo.InvariantCulture);
        Console.WriteLine();
        Console.WriteLine($"| part ({threads} threads every backend, {rounds} interleaved rounds) | contender | p50 ms | p95 ms | p99 ms | ratio | target | met |");
        Console.WriteLine("|---|---|---|---|---|---|---|---|");
        foreach (var l in lines)
        {
            string ratio = l.Ratio is { } r ? r.ToString("0.000", CultureInfo.InvariantCulture) + (l.Versus.Length > 0 ? $" vs {l.Versus}" : "") : "";
            string met = l.Met switch { true => "yes", false => "**no**", null => "" };
            Console.WriteLine($"| {l.Part} | {l.Contender} | {Ms(l.P50Ms)} | {Ms(l.P95Ms)} | {Ms(l.P99Ms)} | {ratio} | {l.Target} | {met} |");
        }
        foreach (var note in notes) Console.WriteLine(note);
    }
}
