using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Tessera.Data;
using Tessera.Models;
using Tessera.Tasks;
using Tessera.Training;
using TorchSharp;
using static TorchSharp.torch;
using static Tessera.Bench.BenchStats;

namespace Tessera.Bench;

/// <summary>Training throughput of the cnn: Tessera's Trainer, a raw TorchSharp loop and PyTorch, same data and settings.</summary>
static class Throughput
{
    const int BatchSize = 128, Warmup = 20;

    public static object Run(int threads, int batches, int rounds, int prefetch = 2)
    {
        set_num_threads(threads);
        using var data = FashionMnist.Load(train: true);
        // Normalized once up front for all three contenders, so each measures only its training loop and batching.
        using var images = ((data.Inputs - FashionMnist.Mean) / FashionMnist.Std).contiguous();
        using var normalized = new TensorDataset(images, data.Targets);

        var trainer = new List<double>();
        var raw = new List<double>();
        for (int r = 0; r < rounds; r++)
        {
            // Interleaved so that machine drift affects both alike.
            raw.Add(RawLoop(images, data.Targets, batches, r));
            trainer.Add(TrainerLoop(normalized, batches, r, prefetch));
            Console.WriteLine($"round {r + 1}: raw {raw[^1]:0} img/s, trainer {trainer[^1]:0} img/s (torch threads {get_num_threads()})");
        }
        double pytorch = PyTorch(threads, batches);
        double t = Median(trainer), rw = Median(raw);
        PrintTable([$"contender (cnn, batch {BatchSize}, {threads} threads)", $"images/s (median of {rounds})", "vs raw TorchSharp"],
            ["raw TorchSharp loop", $"{rw:0}", "1.000"],
            ["Tessera Trainer", $"{t:0}", $"{t / rw:0.000}"],
            [$"PyTorch {PyTorchVersion}", $"{pytorch:0}", $"{pytorch / rw:0.000}"]);
        Console.WriteLine($"framework overhead vs raw loop: {(rw / t - 1) * 100:0.0}%  trainer / pytorch: {t / pytorch:0.000}");
        return new { threads, batches, rounds, batch_size = BatchSize, trainer_images_per_second = t, raw_images_per_second = rw,
            pytorch_images_per_second = pytorch, overhead_percent = (rw / t - 1) * 100, trainer_vs_pytorch = t / pytorch,
            trainer_rounds = trainer, raw_rounds = raw };
    }

    static double RawLoop(Tensor images, Tensor labels, int batches, int round)
    {
        manual_seed(round);
        using var model = new Cnn(new CnnConfig());
        model.train();
        var opt = optim.Adam(model.parameters(), 1e-3);
        using var order = randperm(images.shape[0]);
        long n = images.shape[0];
        var clock = new Stopwatch();
        for (int i = 0; i < Warmup + batches; i++)
        {
            if (i == Warmup) clock.Start();
            using var scope = NewDisposeScope();
            var idx = order.narrow(0, (i * BatchSize) % (n - BatchSize), BatchSize);
            var x = images.index_select(0, idx);
            var y = labels.index_select(0, idx);
            var loss = nn.functional.cross_entropy(model.call(x), y);
            opt.zero_grad();
            loss.backward();
            opt.step();
            _ = loss.ToDouble();
        }
        clock.Stop();
        return batches * BatchSize / clock.Elapsed.TotalSeconds;
    }

    static double TrainerLoop(TensorDataset data, int batches, int round, int prefetch)
    {
        manual_seed(round);
        using var model = new Cnn(new CnnConfig());
        using var module = new ImageClassifier(model);
        var timer = new BatchTimer(Warmup);
        var loader = new DataLoader<Batch>(data, new DataLoaderOptions { BatchSize = BatchSize, Shuffle = true, Seed = round, Prefetch = prefetch });
        new Trainer(new TrainerOptions { MaxEpochs = 1, LimitTrainBatches = Warmup + batches, Callbacks = [timer] }).Fit(module, loader);
        return batches * BatchSize / timer.Elapsed.TotalSeconds;
    }

    static string PyTorchVersion = "";

    static double PyTorch(int threads, int batches)
    {
        string script = Path.Combine(AppContext.BaseDirectory, "pytorch_cnn.py");
        if (!File.Exists(script)) script = Path.GetFullPath("bench/pytorch_cnn.py");
        var psi = new ProcessStartInfo("/usr/bin/python3", [script, FashionMnist.DefaultRoot, threads.ToString(), BatchSize.ToString(), Warmup.ToString(), batches.ToString()])
        { RedirectStandardOutput = true, RedirectStandardError = true };
        psi.Environment["OMP_NUM_THREADS"] = threads.ToString();
        using var p = Process.Start(psi)!;
        string stdout = p.StandardOutput.ReadToEnd();
        string stderr = p.StandardError.ReadToEnd();
        p.WaitForExit();
        if (p.ExitCode != 0) throw new InvalidOperationException($"PyTorch peer failed: {stderr}");
        using var json = JsonDocument.Parse(stdout.Trim().Split('\n')[^1]);
        PyTorchVersion = json.RootElement.GetProperty("torch").GetString() ?? "";
        return json.RootElement.GetProperty("images_per_second").GetDouble();
    }
}
