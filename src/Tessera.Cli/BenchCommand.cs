using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using Spectre.Console;
using Tessera.Export;
using Tessera.Models;
using Tessera.Runtime;
using Tessera.Runtime.Benchmarking;
using Tessera.Runtime.Quantization;
using static TorchSharp.torch;

namespace Tessera.Cli;

static class BenchCommand
{
    /// <summary>Timed calls are split into this many rounds; each round runs every backend in turn, so load drift hits all alike.</summary>
    const int Rounds = 5;

    public static Command Create()
    {
        var model = new Argument<string>("model") { Description = "Model folder (config.json + model.safetensors), or an .onnx file or a folder with model.onnx" };
        var batches = new Option<string>("--batch") { Description = "Comma-separated batch sizes", DefaultValueFactory = _ => "1,32,256" };
        var json = new Option<bool>("--json") { Description = "Print a JSON document instead of the table" };
        var iterations = new Option<int>("--iterations") { Description = "Timed calls per backend and batch size", DefaultValueFactory = _ => 100 }.AtLeast(1);
        var warmup = new Option<int>("--warmup") { Description = "Untimed calls per backend and batch size before timing", DefaultValueFactory = _ => 10 }.AtLeast(0);
        var threads = new Option<int?>("--threads") { Description = "Threads for every backend (libtorch threads, ONNX Runtime intra-op threads) [default: libtorch's default]" }.AtLeast(1);
        var minSeconds = new Option<double?>("--min-seconds")
        {
            Description = "Keep timing each batch size in further interleaved rounds until every backend has run at least this long (batch-1 calls of a small model take microseconds: 100 of them are a poor sample on a busy machine) [default: just --iterations]",
        }.PositiveFinite();
        var accuracy = new Option<bool>("--accuracy") { Description = "Also measure Fashion-MNIST test accuracy of every ONNX Runtime variant (image models with 1x28x28 preprocessing)" };
        var command = new Command("bench", "Inference latency (p50/p95/p99) and throughput per batch size: TorchSharp eager vs ONNX Runtime fp32, fp16, dynamic int8, static int8 (QDQ, calibrated on Fashion-MNIST for image models) and the ORT-format file; then one summary table (size, batch-1 latency, largest-batch throughput, accuracy)")
        {
            model, batches, json, iterations, warmup, threads, minSeconds, accuracy,
        };
        command.SetAction(parse =>
        {
            var sizes = ParseBatches(parse.GetValue(batches)!);
            int n = parse.GetValue(iterations), w = parse.GetValue(warmup);
            int previousThreads = get_num_threads();
            int t = parse.GetValue(threads) ?? previousThreads;
            set_num_threads(t);
            try
            {
                var result = Run(parse.GetValue(model)!, sizes, n, w, t, parse.GetValue(minSeconds) ?? 0, parse.GetValue(accuracy));
                var output = parse.InvocationConfiguration.Output;
                if (parse.GetValue(json)) output.WriteLine(ToJson(result));
                else Print(result, output);
            }
            finally
            {
                set_num_threads(previousThreads);
            }
            return 0;
        });
        return command;
    }

    sealed record Row(string Backend, LatencyResult Latency);

    sealed record Result(string Model, int Threads, int Warmup, int Iterations, IReadOnlyList<string> Backends, IReadOnlyList<string> Notes, IReadOnlyList<Row> Rows,
        IReadOnlyDictionary<string, long> FileBytes, IReadOnlyDictionary<string, double> Accuracy);

    static int[] ParseBatches(string text)
    {
        var parts = text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        var sizes = parts.Select(p => int.TryParse(p, NumberStyles.None, CultureInfo.InvariantCulture, out int b) && b > 0 ? b : -1).ToArray();
        if (sizes.Length == 0 || sizes.Contains(-1)) throw new UsageException($"--batch must be positive integers separated by commas, like 1,32,256 (got '{text}')");
        return sizes;
    }

    static Result Run(string path, int[] batches, int iterations, int warmup, int threads, double minSeconds, bool measureAccuracy)
    {
        var files = new Dictionary<string, long>();
        var accuracies = new Dictionary<string, double>();
        string temp = Directory.CreateTempSubdirectory("tessera-bench-").FullName;
        var notes = new List<string>();
        var backends = new List<(string Name, Func<long[], List<IDisposable>, Action> Prepare, IDisposable Owner)>();
        try
        {
            string onnxPath;
            if (OnnxPaths.IsOnnx(path))
            {
                onnxPath = OnnxPaths.ModelFile(path);
                notes.Add("torchsharp: skipped (an ONNX model has no TorchSharp weights; pass the model folder to include it)");
            }
            else
            {
                var folder = ModelFolder.Open(path);
                var torchModel = folder.LoadModel();
                torchModel.eval();
                backends.Add(("torchsharp", (shape, owned) => TorchAction(torchModel, shape, owned), torchModel));
                onnxPath = Path.Combine(temp, "model.onnx");
                OnnxExporter.ExportFolder(path, onnxPath, new OnnxExportOptions { Verify = false });
            }
            var options = new OnnxSessionOptions { IntraOpThreads = threads };
            var fp32 = OnnxModel.Load(onnxPath, options); // first: ONNX Runtime's checks name a broken file best
            bool givenInt8 = DynamicQuantizer.IsQuantized(onnxPath);
            backends.Add((givenInt8 ? "ort-int8" : "ort-fp32", (shape, owned) => OrtAction(fp32, shape, owned), fp32));
            files[backends[^1].Name] = new FileInfo(onnxPath).Length;
            if (givenInt8) notes.Add("ort-fp32: skipped (the model given is already quantized; pass the float model or the model folder to compare)");
            else try
            {
                string int8Path = Path.Combine(temp, "model.int8.onnx");
                DynamicQuantizer.Quantize(onnxPath, int8Path);
                var int8 = OnnxModel.Load(int8Path, options);
                backends.Add(("ort-int8", (shape, owned) => OrtAction(int8, shape, owned), int8));
                files["ort-int8"] = new FileInfo(int8Path).Length;
            }
            catch (QuantizationException e)
            {
                notes.Add($"ort-int8: skipped ({e.Message})");
            }
            if (!givenInt8)
                foreach (var (name, file, error) in BenchVariants.Create(onnxPath, fp32, temp))
                {
                    if (error is not null) { notes.Add($"{name}: skipped ({error})"); continue; }
                    var variant = OnnxModel.Load(file!, options);
                    backends.Add((name, (shape, owned) => OrtAction(variant, shape, owned), variant));
                    files[name] = new FileInfo(file!).Length;
                }

            var spec = fp32.Inputs.Count == 1 && fp32.Inputs[0].DataType == TensorDataType.Float32 ? fp32.Inputs[0]
                : throw new OnnxModelException(onnxPath, $"bench needs a model with one float input; the model has: {fp32.Describe()}");
            if (spec.Dims.Skip(1).Any(d => d < 0))
                throw new OnnxModelException(onnxPath, $"bench needs fixed input dims except the batch; the model has {spec}");

            var rows = new List<Row>();
            foreach (int batch in batches)
            {
                long[] shape = [batch, .. spec.Dims.Skip(1)];
                if (spec.Dims[0] >= 0 && spec.Dims[0] != batch)
                    throw new UsageException($"--batch {batch}: {onnxPath} has a fixed batch of {spec.Dims[0]}");
                var owned = new List<IDisposable>();
                try
                {
                    rows.AddRange(MeasureInterleaved(backends.Select(b => (b.Name, b.Prepare(shape, owned))).ToList(), batch, iterations, warmup, minSeconds));
                }
                finally
                {
                    foreach (var o in owned) o.Dispose();
                }
            }
            if (measureAccuracy)
            {
                if (!OnnxEvaluation.CanEvaluateOnFashionMnist(fp32, null)) notes.Add("accuracy: skipped (not a Fashion-MNIST image model, or the dataset is not installed)");
                else foreach (var b in backends)
                    if (b.Owner is OnnxModel m) accuracies[b.Name] = BenchVariants.Accuracy(m, fp32);
            }
            return new Result(path, threads, warmup, iterations, backends.Select(b => b.Name).ToArray(), notes, rows, files, accuracies);
        }
        finally
        {
            foreach (var b in backends) b.Owner.Dispose();
            Directory.Delete(temp, recursive: true);
        }
    }

    /// <summary>
    /// Warms every backend up, then times them round-robin: <see cref="Rounds"/> rounds of iterations/rounds calls each,
    /// each round starting with the next backend; then more such rounds while any backend has run less than <paramref name="minSeconds"/>.
    /// </summary>
    static IEnumerable<Row> MeasureInterleaved(List<(string Name, Action Run)> backends, int batch, int iterations, int warmup, double minSeconds = 0)
    {
        var times = backends.Select(_ => new List<double>(iterations)).ToArray();
        foreach (var (_, run) in backends)
            for (int i = 0; i < warmup; i++) run();
        int rounds = Math.Min(Rounds, iterations);
        var spent = new double[backends.Count];
        for (int r = 0; r < rounds || spent.Min() < minSeconds * 1000; r++)
        {
            int calls = r < rounds ? iterations / rounds + (r < iterations % rounds ? 1 : 0) : Math.Max(1, iterations / rounds);
            for (int j = 0; j < backends.Count; j++)
            {
                int k = (r + j) % backends.Count; // each round starts with the next backend, so none always goes first
                var run = backends[k].Run;
                for (int i = 0; i < calls; i++)
                {
                    long start = System.Diagnostics.Stopwatch.GetTimestamp();
                    run();
                    double ms = System.Diagnostics.Stopwatch.GetElapsedTime(start).TotalMilliseconds;
                    times[k].Add(ms);
                    spent[k] += ms;
                }
            }
        }
        return backends.Select((b, k) => new Row(b.Name, LatencyBenchmark.Summarize(times[k], batch))).ToList();
    }

    static Action TorchAction(nn.Module<Tensor, Tensor> model, long[] shape, List<IDisposable> owned)
    {
        var x = tensor(RandomInput(shape), shape);
        owned.Add(x);
        return () =>
        {
            using var scope = NewDisposeScope();
            using var noGrad = no_grad();
            model.call(x);
        };
    }

    static Action OrtAction(OnnxModel model, long[] shape, List<IDisposable> owned)
    {
        var buffers = model.CreateBuffers(new Dictionary<string, long[]> { [model.Inputs[0].Name] = shape });
        owned.Add(buffers);
        RandomInput(shape).CopyTo(buffers.Input<float>(model.Inputs[0].Name));
        return buffers.Run;
    }

    static float[] RandomInput(long[] shape)
    {
        var random = new Random(0);
        var values = new float[shape.Aggregate(1L, (a, b) => a * b)];
        for (int i = 0; i < values.Length; i++) values[i] = (float)(random.NextDouble() * 2 - 1);
        return values;
    }

    static void Print(Result result, TextWriter output)
    {
        foreach (var note in result.Notes) output.WriteLine(note);
        string baseline = result.Backends[0];
        var table = new Table().AddColumns("backend", "batch", "p50 ms", "p95 ms", "p99 ms", "items/s", $"p50 speedup vs {baseline}");
        foreach (var group in result.Rows.GroupBy(r => r.Latency.Batch))
        {
            double reference = group.First(r => r.Backend == baseline).Latency.P50Ms;
            foreach (var row in group)
            {
                var l = row.Latency;
                table.AddRow(row.Backend, l.Batch.ToString(CultureInfo.InvariantCulture), Ms(l.P50Ms), Ms(l.P95Ms), Ms(l.P99Ms),
                    l.ItemsPerSecond.ToString("0", CultureInfo.InvariantCulture), (reference / l.P50Ms).ToString("0.00", CultureInfo.InvariantCulture) + "x");
            }
        }
        var console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(output) });
        console.Write(table);
        int first = result.Rows.Min(r => r.Latency.Batch), last = result.Rows.Max(r => r.Latency.Batch);
        var summary = new Table().AddColumns("variant", "size", $"p50 ms (batch {first})", $"p99 ms (batch {first})", $"items/s (batch {last})", "accuracy");
        foreach (string backend in result.Backends)
        {
            var one = result.Rows.First(r => r.Backend == backend && r.Latency.Batch == first).Latency;
            var many = result.Rows.First(r => r.Backend == backend && r.Latency.Batch == last).Latency;
            summary.AddRow(backend, result.FileBytes.TryGetValue(backend, out long bytes) ? OnnxPaths.Size(bytes) : "-", Ms(one.P50Ms), Ms(one.P99Ms),
                many.ItemsPerSecond.ToString("0", CultureInfo.InvariantCulture),
                result.Accuracy.TryGetValue(backend, out double a) ? (a * 100).ToString("0.00", CultureInfo.InvariantCulture) + " %" : "-");
        }
        console.Write(summary);
        string calls = string.Join(", ", result.Rows.GroupBy(r => r.Latency.Batch).Select(g => $"{g.Min(r => r.Latency.Iterations)} at batch {g.Key}"));
        output.WriteLine($"{result.Threads} thread(s) per backend, {result.Warmup} warm-up and at least {calls} timed calls each, backends interleaved in rounds of {Math.Max(1, result.Iterations / Rounds)}");
    }

    static string Ms(double ms) => ms.ToString(ms < 10 ? "0.000" : "0.0", CultureInfo.InvariantCulture);

    static string ToJson(Result result)
    {
        var document = new
        {
            model = result.Model,
            threads = result.Threads,
            warmup = result.Warmup,
            iterations = result.Iterations,
            backends = result.Backends,
            notes = result.Notes,
            results = result.Rows.Select(r => new
            {
                backend = r.Backend,
                batch = r.Latency.Batch,
                p50_ms = r.Latency.P50Ms,
                p95_ms = r.Latency.P95Ms,
                p99_ms = r.Latency.P99Ms,
                mean_ms = r.Latency.MeanMs,
                min_ms = r.Latency.MinMs,
                max_ms = r.Latency.MaxMs,
                items_per_second = r.Latency.ItemsPerSecond,
            }),
            file_bytes = result.FileBytes,
            accuracy = result.Accuracy,
        };
        return JsonSerializer.Serialize(document, new JsonSerializerOptions { WriteIndented = true });
    }
}
