using System.Diagnostics;
using System.Text.Json;
using Tessera.Data;
using Tessera.Diffusion;
using Tessera.Diffusion.Pipelines;
using Tessera.Diffusion.Schedulers;
using Tessera.Export;
using Tessera.Recipes;
using Tessera.Runtime;
using Tessera.Runtime.Diffusion;
using Tessera.Tasks;
using Tessera.Training;
using Transformers = Tessera.Transformers;
using static TorchSharp.torch;
using static Tessera.Bench.BenchStats;

namespace Tessera.Bench;

/// <summary>
/// Diffusion benches of issue 12, on the UNet of <c>tessera train diffusion fashion-mnist</c>:
/// <list type="bullet">
/// <item><c>diffusion-train</c>: training images/s of the recipe's step (DiffusionModule through the Trainer: timesteps,
/// forward process, label dropout, MSE, AdamW, EMA) vs a plain PyTorch 1.13 loop of the same UNet and batch
/// (bench/pytorch_unet2d_train.py), interleaved rounds in one run.</item>
/// <item><c>diffusion-sampling</c>: images/s of DDPM, DDIM 50, DPM++ 20 and Euler 30 at one batch, TorchSharp pipeline vs
/// ONNX Runtime pipeline, on a trained pipeline folder (or random weights of the default UNet).</item>
/// </list>
/// </summary>
static class DiffusionBench
{
    static UNet2DConfig Unet(string name) => name switch
    {
        "default" => DiffusionTraining.DefaultUNet,
        "tiny" => DiffusionTraining.TinyUNet,
        "large" => DiffusionTraining.LargeUNet,
        _ => Transformers.PretrainedConfig.Load<UNet2DConfig>(Directory.Exists(name) ? Path.Combine(name, "config.json") : name),
    };

    public static object Train(int threads, int batch, int warmup, int batches, int rounds, string unetName, string python, string script)
    {
        set_num_threads(threads);
        UNet2DConfig config = Unet(unetName);
        string dir = Path.Combine("bench", "results", "diffusion-train");
        Directory.CreateDirectory(dir);
        string configFile = Path.Combine(dir, "unet-config.json");
        config.Save(configFile);
        using var data = FashionMnist.Load(train: true);
        using var images = (data.Inputs * 2 - 1).contiguous();
        using var dataset = new TensorDataset(images, data.Targets);

        var trainer = new List<double>();
        var pytorch = new List<double>();
        long parameters = 0;
        string torchVersion = "";
        for (int r = 0; r < rounds; r++)
        {
            // Interleaved, so that the shared machine's load drifts over both alike.
            manual_seed(r);
            using (var unet = new UNet2DModel(config))
            {
                parameters = unet.parameters().Sum(p => p.numel());
                var scheduler = DiffusionTraining.Scheduler(new DiffusionTrainingOptions());
                using var module = new DiffusionModule(unet, scheduler, new DiffusionModuleOptions { LearningRate = 1e-3, TotalSteps = warmup + batches, WarmupSteps = 1 });
                var timer = new BatchTimer(warmup);
                var loader = new DataLoader<Batch>(dataset, new DataLoaderOptions { BatchSize = batch, Shuffle = true, Seed = r });
                new Trainer(new TrainerOptions { MaxEpochs = 1, LimitTrainBatches = warmup + batches, Callbacks = [module.EmaCallback, timer] }).Fit(module, loader);
                trainer.Add(batches * batch / timer.Elapsed.TotalSeconds);
            }
            using var json = RunPython(python, [script, configFile, FashionMnist.DefaultRoot, threads.ToString(), batch.ToString(), warmup.ToString(), batches.ToString()], threads);
            pytorch.Add(json.RootElement.GetProperty("images_per_second").GetDouble());
            torchVersion = json.RootElement.GetProperty("torch").GetString() ?? "";
            long pyParams = json.RootElement.GetProperty("parameters").GetInt64();
            if (pyParams != parameters) throw new InvalidOperationException($"the PyTorch UNet has {pyParams} parameters, Tessera's {parameters}: not the same architecture");
            Console.WriteLine($"round {r + 1}: Trainer {trainer[^1]:0.0} img/s, PyTorch {pytorch[^1]:0.0} img/s (load {Load()})");
        }
        double t = Median(trainer), p = Median(pytorch);
        PrintTable([$"UNet {parameters / 1e6:0.00}M, batch {batch}, {threads} threads, {batches} timed steps after {warmup}", $"images/s (median of {rounds})", "vs PyTorch"],
            ["Tessera Trainer (DiffusionModule, EMA)", $"{t:0.0}", $"{t / p:0.00}x"],
            [$"PyTorch {torchVersion} plain loop (same step, EMA)", $"{p:0.0}", "1.00x"]);
        return new { parameters, batch, threads, warmup, batches, rounds, trainer_images_per_second = t, pytorch_images_per_second = p, trainer_vs_pytorch = t / p,
            trainer_rounds = trainer, pytorch_rounds = pytorch, torch = torchVersion };
    }

    public static object Sampling(string? modelFolder, int threads, int batch, int ddpmSteps, double guidance, int rounds)
    {
        set_num_threads(threads);
        string dir = Path.Combine("bench", "results", "diffusion-sampling");
        string folder = modelFolder ?? Path.Combine(dir, "pipe");
        if (modelFolder is null)
        {
            manual_seed(0);
            using var fresh = new DiffusionPipeline(new UNet2DModel(DiffusionTraining.DefaultUNet), DiffusionTraining.Scheduler(new DiffusionTrainingOptions()));
            fresh.SavePretrained(folder);
        }
        string onnx = Path.Combine(dir, "onnx");
        var export = ModelExport.Export(folder, onnx);
        using var pipe = DiffusionPipeline.FromPretrained(folder);
        using var ort = OrtDiffusionPipeline.FromPretrained(onnx, new OnnxSessionOptions { IntraOpThreads = threads });
        long parameters = pipe.UNet.parameters().Sum(p => p.numel());
        Console.WriteLine($"{folder}: UNet {parameters / 1e6:0.00}M parameters; batch {batch}, guidance {guidance}, {threads} threads; export: {export.Summary[^1]}");
        SchedulerConfig baseConfig = pipe.Scheduler.Config;
        var runs = new (string Name, string Scheduler, int Steps, int FullSteps)[]
        {
            ("DDPM", "ddpm", ddpmSteps, 1000), ("DDIM", "ddim", 50, 50), ("DPM++ 2M", "dpm++", 20, 20), ("Euler", "euler", 30, 30),
        };
        int classes = pipe.UNet.Config.NumClassEmbeds is int n ? n - 1 : 0;
        var rows = new List<object>();
        Console.WriteLine($"| scheduler | steps | TorchSharp images/s | ONNX Runtime images/s | ORT / TorchSharp |");
        Console.WriteLine("|---|---:|---:|---:|---:|");
        foreach (var (name, scheduler, steps, full) in runs)
        {
            var options = new SamplingOptions
            {
                NumImages = batch, NumInferenceSteps = steps, Seed = 1, GuidanceScale = classes > 0 ? guidance : 1.0,
                ClassLabels = classes > 0 ? Enumerable.Range(0, batch).Select(i => (long)(i % classes)).ToArray() : null,
            };
            pipe.Scheduler = Schedulers.Create(scheduler, baseConfig);
            ort.Scheduler = Schedulers.Create(scheduler, baseConfig);
            // Per-step cost is the same at every step, so a reduced DDPM run is scaled to its 1000 steps.
            double scale = (double)steps / full;
            double torchSeconds = Best(rounds, () => pipe.Generate(options)) / scale;
            double ortSeconds = Best(rounds, () => ort.Generate(options)) / scale;
            double ts = batch / torchSeconds, os = batch / ortSeconds;
            string note = steps != full ? $" (timed {steps} steps, scaled to {full})" : "";
            Console.WriteLine($"| {name}{note} | {full} | {ts:0.00} | {os:0.00} | {os / ts:0.00}x |");
            rows.Add(new { scheduler = name, steps = full, timed_steps = steps, torchsharp_images_per_second = ts, ort_images_per_second = os });
        }
        Console.WriteLine($"(load {Load()})");
        return new { folder, parameters, batch, guidance, threads, rounds, rows };
    }

    static JsonDocument RunPython(string python, string[] args, int threads)
    {
        var psi = new ProcessStartInfo(python, args) { RedirectStandardOutput = true, RedirectStandardError = true };
        psi.Environment["OMP_NUM_THREADS"] = threads.ToString();
        using var p = Process.Start(psi)!;
        var stderrTask = p.StandardError.ReadToEndAsync();
        string stdout = p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        if (p.ExitCode != 0) throw new InvalidOperationException($"PyTorch peer failed: {stderrTask.Result}");
        return JsonDocument.Parse(stdout.Trim().Split('\n')[^1]);
    }

    static string Load() => File.ReadAllText("/proc/loadavg").Split(' ')[0];

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
