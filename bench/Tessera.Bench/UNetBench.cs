using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Tessera.Diffusion;
using Tessera.Diffusion.Pipelines;
using Tessera.Diffusion.Schedulers;
using Tessera.Export;
using Tessera.Runtime;
using Tessera.Runtime.Diffusion;
using static TorchSharp.torch;
using static Tessera.Bench.BenchStats;

namespace Tessera.Bench;

/// <summary>
/// UNet2DModel speed, side by side in one run on the same weights: a batch forward of a 28x28 class-conditional
/// UNet of 1.71M parameters in TorchSharp eager, ONNX Runtime fp32 and PyTorch 1.13, a training step (forward, MSE,
/// backward, Adam) in TorchSharp and PyTorch, then 50-step DDIM sampling of the batch with each (TorchSharp and ORT
/// through Tessera's pipelines, PyTorch through a plain loop). The contenders are interleaved round by round (PyTorch
/// stays up in a child process and runs one command per round), so machine drift hits all of them; wall time and
/// process CPU time are both reported, with the load average before and after.
/// </summary>
static class UNetBench
{
    public static UNet2DConfig Config => new()
    {
        SampleSize = 28, InChannels = 1, OutChannels = 1, BlockOutChannels = [32, 64, 64], LayersPerBlock = 2, NormNumGroups = 16,
        DownBlockTypes = ["DownBlock2D", "AttnDownBlock2D", "AttnDownBlock2D"], UpBlockTypes = ["AttnUpBlock2D", "AttnUpBlock2D", "UpBlock2D"],
        AttentionHeadDim = 32, NumClassEmbeds = 11,
    };

    public static object Run(int threads, int batch, int rounds, int steps, string python, string script)
    {
        set_num_threads(threads);
        string load0 = LoadAverage();
        string dir = Path.Combine("bench", "results", "unet-bench");
        string folder = Path.Combine(dir, "pipe"), onnx = Path.Combine(dir, "onnx");
        manual_seed(0);
        using var pipe = new DiffusionPipeline(new UNet2DModel(Config), new DdimScheduler());
        pipe.UNet.eval();
        long parameters = pipe.UNet.parameters().Sum(p => p.numel());
        pipe.SavePretrained(folder);
        var export = ModelExport.Export(folder, onnx);
        Console.WriteLine($"UNet2DModel 28x28, {parameters / 1e6:0.00}M parameters, batch {batch}, {threads} threads; export: {export.Summary[^1]}");
        using var trained = UNet2DModel.FromPretrained(Path.Combine(folder, "unet"));
        trained.train();
        using var adam = optim.Adam(trained.parameters(), 1e-4);

        var c = Config;
        var x = randn(batch, c.InChannels, 28, 28);
        var t = full(batch, 500f);
        var labels = arange(batch) % c.NumClassEmbeds!.Value;
        using var ort = OrtDiffusionPipeline.FromPretrained(onnx, new OnnxSessionOptions { IntraOpThreads = threads });
        var inputs = new Dictionary<string, NamedTensor>
        {
            ["sample"] = new(x.data<float>().ToArray(), batch, c.InChannels, 28, 28),
            ["timestep"] = new(t.data<float>().ToArray(), batch),
            ["class_labels"] = new(labels.data<long>().ToArray(), batch),
        };
        using var py = new PythonContender(python, script, Path.Combine(folder, "unet"), threads, batch, steps);

        Action torchForward = () => { using var scope = NewDisposeScope(); using var ng = no_grad(); pipe.UNet.call(x, t, labels); };
        Action ortForward = () => ort.UNet.Run(inputs);
        Action torchTrain = () =>
        {
            using var scope = NewDisposeScope();
            adam.zero_grad();
            nn.functional.mse_loss(trained.call(x, t, labels), x).backward();
            adam.step();
        };
        // Warm-up: two of each.
        for (int i = 0; i < 2; i++) { torchForward(); ortForward(); py.Run("forward"); torchTrain(); py.Run("train"); }
        var f = new Dictionary<string, List<Timing>> { ["torch"] = [], ["ort"] = [], ["py"] = [] };
        var tr = new Dictionary<string, List<Timing>> { ["torch"] = [], ["py"] = [] };
        for (int r = 0; r < rounds; r++)
        {
            f["torch"].Add(Measure(torchForward));
            f["ort"].Add(Measure(ortForward));
            f["py"].Add(py.Run("forward"));
            tr["torch"].Add(Measure(torchTrain));
            tr["py"].Add(py.Run("train"));
        }
        var options = new SamplingOptions { NumImages = batch, NumInferenceSteps = steps, Seed = 1, ClassLabels = Enumerable.Range(0, batch).Select(i => (long)(i % 11)).ToArray() };
        Timing torchDdim = Measure(() => pipe.Generate(options)), ortDdim = Measure(() => ort.Generate(options)), pyDdim = py.Run("ddim");
        string load1 = LoadAverage();

        Timing Med(List<Timing> l) => new(l.Select(v => v.Ms).Order().ElementAt(l.Count / 2), l.Select(v => v.CpuMs).Order().ElementAt(l.Count / 2));
        Timing tf = Med(f["torch"]), of = Med(f["ort"]), pf = Med(f["py"]), tt = Med(tr["torch"]), pt = Med(tr["py"]);
        Console.WriteLine($"load average (1, 5, 15 min) before: {load0}; after: {load1}");
        PrintTable(["contender", $"forward batch {batch}: wall ms / CPU ms (median of {rounds}, interleaved)", "train step: wall ms / CPU ms", $"{steps}-step DDIM, {batch} images: wall s / CPU s"],
            ["TorchSharp eager", $"{tf.Ms:0} / {tf.CpuMs:0}", $"{tt.Ms:0} / {tt.CpuMs:0}", $"{torchDdim.Ms / 1000:0.0} / {torchDdim.CpuMs / 1000:0.0}"],
            ["ONNX Runtime fp32", $"{of.Ms:0} / {of.CpuMs:0}", "—", $"{ortDdim.Ms / 1000:0.0} / {ortDdim.CpuMs / 1000:0.0}"],
            [$"PyTorch {py.Version}", $"{pf.Ms:0} / {pf.CpuMs:0}", $"{pt.Ms:0} / {pt.CpuMs:0}", $"{pyDdim.Ms / 1000:0.0} / {pyDdim.CpuMs / 1000:0.0}"]);
        Console.WriteLine($"TorchSharp / PyTorch speed (forward, wall): {pf.Ms / tf.Ms:0.00}x, CPU: {pf.CpuMs / tf.CpuMs:0.00}x; train step wall {pt.Ms / tt.Ms:0.00}x, CPU {pt.CpuMs / tt.CpuMs:0.00}x");
        Console.WriteLine($"ORT / TorchSharp speed (forward, wall): {tf.Ms / of.Ms:0.00}x, CPU: {tf.CpuMs / of.CpuMs:0.00}x");
        Console.WriteLine("per round, forward wall ms (torch / ort / py): " + string.Join(", ", Enumerable.Range(0, rounds).Select(i => $"{f["torch"][i].Ms:0}/{f["ort"][i].Ms:0}/{f["py"][i].Ms:0}")));
        return new
        {
            parameters, batch, threads, rounds, steps, load_before = load0, load_after = load1,
            torchsharp_forward_ms = tf.Ms, torchsharp_forward_cpu_ms = tf.CpuMs, ort_forward_ms = of.Ms, ort_forward_cpu_ms = of.CpuMs,
            pytorch_forward_ms = pf.Ms, pytorch_forward_cpu_ms = pf.CpuMs, torchsharp_train_ms = tt.Ms, torchsharp_train_cpu_ms = tt.CpuMs,
            pytorch_train_ms = pt.Ms, pytorch_train_cpu_ms = pt.CpuMs, torchsharp_ddim_ms = torchDdim.Ms, ort_ddim_ms = ortDdim.Ms, pytorch_ddim_ms = pyDdim.Ms,
        };
    }

    /// <summary>Wall time and this process's CPU time (user + system, all threads) of one call.</summary>
    readonly record struct Timing(double Ms, double CpuMs);

    static Timing Measure(Action run)
    {
        using var process = Process.GetCurrentProcess();
        TimeSpan cpu0 = process.TotalProcessorTime;
        var clock = Stopwatch.StartNew();
        run();
        double ms = clock.Elapsed.TotalMilliseconds;
        process.Refresh();
        return new Timing(ms, (process.TotalProcessorTime - cpu0).TotalMilliseconds);
    }

    static string LoadAverage() => File.Exists("/proc/loadavg") ? string.Join(" ", File.ReadAllText("/proc/loadavg").Split(' ').Take(3)) : "unknown";

    /// <summary><c>bench/pytorch_unet2d.py</c> kept running: one command per line in, one JSON timing per line out.</summary>
    sealed class PythonContender : IDisposable
    {
        readonly Process process;

        public PythonContender(string python, string script, string unetFolder, int threads, int batch, int steps)
        {
            var psi = new ProcessStartInfo(python) { RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = false };
            foreach (string a in new[] { script, unetFolder, threads.ToString(CultureInfo.InvariantCulture), batch.ToString(CultureInfo.InvariantCulture), steps.ToString(CultureInfo.InvariantCulture) })
                psi.ArgumentList.Add(a);
            process = Process.Start(psi)!;
            using var ready = JsonDocument.Parse(ReadLine());
            Version = ready.RootElement.GetProperty("torch").GetString()!;
        }

        public string Version { get; }

        public Timing Run(string command)
        {
            process.StandardInput.WriteLine(command);
            process.StandardInput.Flush();
            using var json = JsonDocument.Parse(ReadLine());
            return new Timing(json.RootElement.GetProperty("ms").GetDouble(), json.RootElement.GetProperty("cpu_ms").GetDouble());
        }

        string ReadLine() => process.StandardOutput.ReadLine() ?? throw new InvalidOperationException($"the PyTorch contender exited (code {(process.HasExited ? process.ExitCode : -1)}); see its stderr above");

        public void Dispose()
        {
            if (!process.HasExited)
            {
                process.StandardInput.WriteLine("quit");
                process.StandardInput.Flush();
                process.WaitForExit();
            }
            process.Dispose();
        }
    }
}
