using System.Diagnostics;
using System.Text.Json;
using Tessera.Diffusion;
using Tessera.Diffusion.Pipelines;
using Tessera.Diffusion.Schedulers;
using Tessera.Export;
using Tessera.Runtime;
using Tessera.Runtime.Diffusion;
using static TorchSharp.torch;

namespace Tessera.Bench;

/// <summary>
/// UNet2DModel speed, side by side in one run on the same weights: a batch forward of a 28x28 class-conditional
/// UNet of 4.02M parameters in TorchSharp eager, ONNX Runtime fp32 and PyTorch 1.13, then 50-step DDIM sampling of
/// the batch with each (TorchSharp and ORT through Tessera's pipelines, PyTorch through a plain loop).
/// </summary>
static class UNetBench
{
    public static UNet2DConfig Config => new()
    {
        SampleSize = 28, InChannels = 1, OutChannels = 1, BlockOutChannels = [32, 64, 128], LayersPerBlock = 2, NormNumGroups = 16,
        DownBlockTypes = ["DownBlock2D", "AttnDownBlock2D", "AttnDownBlock2D"], UpBlockTypes = ["AttnUpBlock2D", "AttnUpBlock2D", "UpBlock2D"],
        AttentionHeadDim = 32, NumClassEmbeds = 11,
    };

    public static object Run(int threads, int batch, int rounds, int steps, string python, string script)
    {
        set_num_threads(threads);
        string dir = Path.Combine("bench", "results", "unet-bench");
        string folder = Path.Combine(dir, "pipe"), onnx = Path.Combine(dir, "onnx");
        manual_seed(0);
        using var pipe = new DiffusionPipeline(new UNet2DModel(Config), new DdimScheduler());
        pipe.UNet.eval();
        long parameters = pipe.UNet.parameters().Sum(p => p.numel());
        pipe.SavePretrained(folder);
        var export = ModelExport.Export(folder, onnx);
        Console.WriteLine($"UNet2DModel 28x28, {parameters / 1e6:0.00}M parameters, batch {batch}, {threads} threads; export: {export.Summary[^1]}");

        var c = Config;
        var x = randn(batch, c.InChannels, 28, 28);
        var t = full(batch, 500f);
        var labels = arange(batch) % c.NumClassEmbeds!.Value;
        double torchMs = Median(rounds, () => { using var scope = NewDisposeScope(); using var ng = no_grad(); pipe.UNet.call(x, t, labels); });

        using var ort = OrtDiffusionPipeline.FromPretrained(onnx, new OnnxSessionOptions { IntraOpThreads = threads });
        var inputs = new Dictionary<string, NamedTensor>
        {
            ["sample"] = new(x.data<float>().ToArray(), batch, c.InChannels, 28, 28),
            ["timestep"] = new(t.data<float>().ToArray(), batch),
            ["class_labels"] = new(labels.data<long>().ToArray(), batch),
        };
        double ortMs = Median(rounds, () => ort.UNet.Run(inputs));

        var options = new SamplingOptions { NumImages = batch, NumInferenceSteps = steps, Seed = 1, ClassLabels = Enumerable.Range(0, batch).Select(i => (long)(i % 11)).ToArray() };
        double torchDdim = Time(() => pipe.Generate(options));
        double ortDdim = Time(() => ort.Generate(options));

        var psi = new ProcessStartInfo(python) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (string a in new[] { script, Path.Combine(folder, "unet"), threads.ToString(), batch.ToString(), rounds.ToString(), steps.ToString() }) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        string stdout = p.StandardOutput.ReadToEnd(), stderr = p.StandardError.ReadToEnd();
        p.WaitForExit();
        if (p.ExitCode != 0) throw new InvalidOperationException("PyTorch reference failed: " + stderr);
        using var json = JsonDocument.Parse(stdout.Trim().Split('\n')[^1]);
        double pyMs = json.RootElement.GetProperty("forward_ms").GetDouble(), pyDdim = json.RootElement.GetProperty("ddim_ms").GetDouble();

        Console.WriteLine($"| contender | forward batch {batch} (ms, median of {rounds}) | {steps}-step DDIM, {batch} images (s) |");
        Console.WriteLine("|---|---:|---:|");
        Console.WriteLine($"| TorchSharp eager | {torchMs:0.0} | {torchDdim / 1000:0.00} |");
        Console.WriteLine($"| ONNX Runtime fp32 | {ortMs:0.0} | {ortDdim / 1000:0.00} |");
        Console.WriteLine($"| PyTorch {json.RootElement.GetProperty("torch").GetString()} | {pyMs:0.0} | {pyDdim / 1000:0.00} |");
        Console.WriteLine($"ORT / TorchSharp speed-up: {torchMs / ortMs:0.00}x; TorchSharp / PyTorch: {pyMs / torchMs:0.00}x");
        return new { parameters, batch, threads, rounds, steps, torchsharp_forward_ms = torchMs, ort_forward_ms = ortMs, pytorch_forward_ms = pyMs,
            torchsharp_ddim_ms = torchDdim, ort_ddim_ms = ortDdim, pytorch_ddim_ms = pyDdim };
    }

    static double Median(int rounds, Action run)
    {
        run();
        run();
        var times = new List<double>();
        for (int i = 0; i < rounds; i++) times.Add(Time(run));
        times.Sort();
        return times[times.Count / 2];
    }

    static double Time(Action run)
    {
        var clock = Stopwatch.StartNew();
        run();
        return clock.Elapsed.TotalMilliseconds;
    }
}
