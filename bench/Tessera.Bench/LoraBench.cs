using System.Diagnostics;
using Tessera.Adapters;
using Tessera.Transformers;
using TorchSharp;
using static TorchSharp.torch;
using static Tessera.Bench.BenchStats;

namespace Tessera.Bench;

/// <summary>
/// LoRA vs full fine-tuning on a GPT-2-small-shaped model (12 x 768, vocab 50257, random weights): time per AdamW
/// step (interleaved rounds), trainable parameters, gradient + optimizer-state bytes, and adapter file size vs the base.
/// </summary>
static class LoraBench
{
    public static object Run(int threads, int steps, int rounds, int seq, int rank)
    {
        set_num_threads(threads);
        manual_seed(0);
        var config = new Gpt2Config { VocabSize = 50257, NPositions = 1024, NEmbd = 768, NLayer = 12, NHead = 12 };
        using var full = new Gpt2LMHeadModel(config);
        using var lora = new Gpt2LMHeadModel(config);
        var peft = LoraModel.Wrap(lora, new LoraConfig(rank, 2 * rank, ["c_attn"]));
        var ids = randint(0, config.VocabSize, [1, seq]);
        using var fullOpt = optim.AdamW(full.parameters(), 1e-4);
        using var loraOpt = optim.AdamW(peft.TrainableParameters(), 1e-4);
        full.train();
        lora.train();

        double Step(CausalLanguageModel model, optim.Optimizer opt)
        {
            var clock = Stopwatch.StartNew();
            using var scope = NewDisposeScope();
            opt.zero_grad();
            CausalLanguageModel.CausalLMLoss(model.forward(ids, useCache: false).Logits, ids).backward();
            opt.step();
            return clock.Elapsed.TotalMilliseconds;
        }

        Step(full, fullOpt);
        Step(lora, loraOpt);
        var fullMs = new List<double>();
        var loraMs = new List<double>();
        for (int r = 0; r < rounds; r++)
        {
            fullMs.Add(Enumerable.Range(0, steps).Select(_ => Step(full, fullOpt)).Average());
            loraMs.Add(Enumerable.Range(0, steps).Select(_ => Step(lora, loraOpt)).Average());
        }

        string dir = Directory.CreateTempSubdirectory("tessera-lora-bench-").FullName;
        try
        {
            long loraParams = peft.ParameterCounts().Trainable;
            peft.SavePretrained(Path.Combine(dir, "adapter"));
            peft.Unload();
            full.SavePretrained(Path.Combine(dir, "base"));
            long adapterBytes = new FileInfo(Path.Combine(dir, "adapter", LoraModel.WeightsFileName)).Length;
            long baseBytes = new FileInfo(Path.Combine(dir, "base", "model.safetensors")).Length;
            long fullParams = full.parameters().Sum(p => p.numel());
            double fullMedian = Median(fullMs), loraMedian = Median(loraMs);
            Console.WriteLine($"| GPT-2-small shape, 1x{seq} tokens, {threads} threads | ms/step (median of {rounds}) | trainable params | grad + AdamW state |");
            Console.WriteLine("|---|---|---|---|");
            Console.WriteLine($"| full fine-tuning | {fullMedian:0} | {fullParams:N0} | {3 * fullParams * 4 / 1e6:0} MB |");
            Console.WriteLine($"| LoRA r={rank} on c_attn | {loraMedian:0} | {loraParams:N0} | {3 * loraParams * 4 / 1e6:0.0} MB |");
            Console.WriteLine($"LoRA step / full step = {loraMedian / fullMedian:0.000}; adapter file {adapterBytes / 1e6:0.00} MB = {100.0 * adapterBytes / baseBytes:0.00}% of the base's {baseBytes / 1e6:0} MB");
            return new
            {
                threads, seq, rank, rounds, steps,
                full_ms = fullMs, lora_ms = loraMs, full_median_ms = fullMedian, lora_median_ms = loraMedian, ratio = loraMedian / fullMedian,
                full_trainable = fullParams, lora_trainable = loraParams, adapter_bytes = adapterBytes, base_bytes = baseBytes,
            };
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
