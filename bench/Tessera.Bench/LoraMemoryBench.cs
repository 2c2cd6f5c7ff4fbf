using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Tessera.Adapters;
using Tessera.Transformers;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Tessera.Bench;

/// <summary>
/// Peak resident memory of full fine-tuning vs LoRA on the GPT-2-small shape. Peak RSS (VmHWM) is per process, so each
/// contender runs in its own child process (this program re-invoked with the hidden <c>lora-memory-child</c> command),
/// builds only its own model, runs N AdamW steps and reports VmHWM; the parent prints the table.
/// </summary>
static class LoraMemoryBench
{
    public const string ChildCommand = "lora-memory-child";

    public static object Run(int threads, int steps, int seq, int rank)
    {
        var results = new List<Dictionary<string, double>>();
        foreach (string contender in new[] { "full", "lora" })
        {
            var psi = new ProcessStartInfo { RedirectStandardOutput = true };
            string self = typeof(LoraMemoryBench).Assembly.Location;
            if (Path.GetFileNameWithoutExtension(Environment.ProcessPath) == "dotnet")
            {
                psi.FileName = Environment.ProcessPath!;
                psi.ArgumentList.Add(self);
            }
            else psi.FileName = Environment.ProcessPath!;
            foreach (string a in new[] { ChildCommand, "--contender", contender, "--threads", $"{threads}", "--steps", $"{steps}", "--seq", $"{seq}", "--rank", $"{rank}" })
                psi.ArgumentList.Add(a);
            using var child = Process.Start(psi)!;
            string output = child.StandardOutput.ReadToEnd();
            child.WaitForExit();
            if (child.ExitCode != 0) throw new InvalidOperationException($"{contender} child exited with {child.ExitCode}: {output}");
            string json = output.Split('\n', StringSplitOptions.RemoveEmptyEntries).Last(l => l.StartsWith('{'));
            results.Add(JsonSerializer.Deserialize<Dictionary<string, double>>(json)!);
        }
        var (full, lora) = (results[0], results[1]);
        Console.WriteLine($"| GPT-2-small shape, 1x{seq} tokens, {threads} threads, {steps} AdamW steps | RSS: model built | + adapter, AdamW created | peak RSS (VmHWM) | peak - model | trainable params | ms/step |");
        Console.WriteLine("|---|---|---|---|---|---|---|");
        foreach (var (name, r) in new[] { ("full fine-tuning", full), ($"LoRA r={rank} on c_attn", lora) })
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"| {name} | {r["rss_model_mb"]:0} MB | {r["rss_optimizer_mb"]:0} MB | {r["peak_mb"]:0} MB | {r["peak_mb"] - r["rss_model_mb"]:0} MB | {r["trainable"]:N0} | {r["ms_per_step"]:0} |"));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"LoRA peak / full peak = {lora["peak_mb"] / full["peak_mb"]:0.000}"));
        return new { threads, steps, seq, rank, full, lora, peak_ratio = lora["peak_mb"] / full["peak_mb"] };
    }

    /// <summary>One contender in this process: prints one JSON line with its RSS figures.</summary>
    public static void RunChild(string contender, int threads, int steps, int seq, int rank)
    {
        set_num_threads(threads);
        manual_seed(0);
        var config = new Gpt2Config { VocabSize = 50257, NPositions = 1024, NEmbd = 768, NLayer = 12, NHead = 12 };
        using var model = new Gpt2LMHeadModel(config);
        double rssModel = Status("VmRSS");
        IEnumerable<Parameter> trainable = model.parameters();
        if (contender == "lora")
            trainable = LoraModel.Wrap(model, new LoraConfig(rank, 2 * rank, ["c_attn"])).TrainableParameters();
        else if (contender != "full") throw new ArgumentException($"unknown contender {contender}");
        var parameters = trainable.ToList();
        using var optimizer = optim.AdamW(parameters, 1e-4);
        var ids = randint(0, config.VocabSize, [1, seq]);
        model.train();
        double rssOptimizer = Status("VmRSS");
        var clock = Stopwatch.StartNew();
        for (int i = 0; i < steps; i++)
        {
            using var scope = NewDisposeScope();
            optimizer.zero_grad();
            CausalLanguageModel.CausalLMLoss(model.forward(ids, useCache: false).Logits, ids).backward();
            optimizer.step();
        }
        double ms = clock.Elapsed.TotalMilliseconds / steps;
        Console.WriteLine(JsonSerializer.Serialize(new Dictionary<string, double>
        {
            ["rss_model_mb"] = rssModel, ["rss_optimizer_mb"] = rssOptimizer, ["peak_mb"] = Status("VmHWM"), ["rss_end_mb"] = Status("VmRSS"),
            ["trainable"] = parameters.Sum(p => p.numel()), ["ms_per_step"] = ms,
        }));
    }

    /// <summary>A /proc/self/status field in MB.</summary>
    static double Status(string field)
    {
        foreach (var line in File.ReadLines("/proc/self/status"))
            if (line.StartsWith(field + ":", StringComparison.Ordinal))
                return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) / 1024.0;
        return double.NaN;
    }
}
