using System.Diagnostics;
using System.Text.Json;
using Tessera.Bench;

// Benchmarks that compare Tessera with its peers side by side in one run; each prints a table and writes JSON.
//   throughput [--threads 2] [--batches 150] [--rounds 3]   Trainer vs raw TorchSharp loop vs PyTorch (cnn, batch 128)
//   tracking [--points 1000000] [--runs 10000] [--rounds 5]   runs store: logging 1M metric points, listing 10k runs
//   tracking-train [--threads 2] [--batches 200] [--rounds 5]   cnn training throughput with the runs store on vs off
//   accuracy [--model cnn|resnet] [--epochs 5]               Fashion-MNIST test accuracy, wall time, RSS per epoch
//   decoder-profile [--dir bench/results/decoder-models] [--variants int8,fp32,torch] [--torch-onnx F]   ORT profiler: kernel time
//           per op type per token (and per prefill of ours vs F); torch: TorchSharp greedy tokens/s at --threads;
//           torch-llama: SmolLM-135M shape with and without the decode kernels; nbits-b{N}, nbits-acc{L}: MatMulNBits settings
//   lora [--threads 2] [--steps 3] [--rounds 3] [--seq 128] [--rank 8]   LoRA vs full fine-tuning step time, adapter size
//   lora-memory [--threads 2] [--steps 2] [--seq 128] [--rank 8]   peak RSS (VmHWM) of full vs LoRA training, one child process each
//   allreduce [--rounds 20]   (under mpirun -np N) gradient all-reduce time and bus GB/s for Tessera's model sizes
//   onnx [--threads 2] [--rounds 5] [--model-folder DIR]     ORT fp32/int8 vs TorchSharp eager, runtime overhead, int8 accuracy
//   decoder [--threads 2] [--prompt 16] [--new-tokens 64] [--layers 12] [--rounds 3] [--seq 128] [--latency-rounds 10]
//           [--python /usr/bin/python3] [--torch-script bench/gpt2_torch_onnx.py] [--omp-wait passive|active|default]
//           GPT-2-small greedy tokens/s (TorchSharp KV cache, ORT fp32, ORT int8) vs the bandwidth bound; prefill vs torch.onnx
//   serving-baseline --model DIR [--prompt TEXT] [--new-tokens 64] [--rounds 5] [--threads 0]   the library's own greedy loop
//           (OrtCausalLM) tokens/s, one sequence: the reference for `tessera loadtest` single-stream tokens/s (bench/serving.sh)
//   serving-step --model DIR [--threads 2] [--rows 16] [--prompt-tokens 16] [--rounds 3]   one continuous-batching decode step of
//           `tessera serve` (OrtServingDecoder, no HTTP): 1-row and 16-row steps, prefills, the step after a row left / joined
//   unet-profile [--threads 2] [--batch 16] [--rounds 5]   bench UNet forward / train step and its operators one by one
//           (TorchSharp); bench/pytorch_unet2d_ops.py times the same list in PyTorch 1.13
//   bf16-micro [--threads 2] [--rounds 2]   bf16 vs fp32 matmul/conv and cnn / LM-shaped steps (pure bf16, hand-made bf16-mixed)
//   unet [--threads 2] [--batch 16] [--rounds 5] [--steps 50]   UNet2DModel 28x28 1.71M params: TorchSharp vs ORT fp32 vs PyTorch 1.13, forward, train step, DDIM (interleaved)
//   diffusion-train [--threads 2] [--batch 128] [--warmup 3] [--batches 10] [--rounds 3] [--unet default|tiny|config.json]
//           training images/s of the diffusion recipe's step through the Trainer vs a plain PyTorch 1.13 loop, same UNet and batch
//   diffusion-sampling [--model DIR] [--threads 2] [--batch 64] [--ddpm-steps 1000] [--guidance 2] [--rounds 1]
//           images/s of DDPM 1000 / DDIM 50 / DPM++ 20 / Euler 30, TorchSharp vs ONNX Runtime (DDPM may be timed on fewer steps and scaled)
//   bf16-train [--threads 2] [--rounds 2] [--warmup 2] [--step-scale 1] [--models cnn,resnet,gpt2-tiny]   Trainer images/s (cnn, resnet) and tokens/s (GPT-2-tiny),
//           Precision bf16-mixed vs 32-true interleaved, with the load average; the precision plugin's per-step copy cost
var opts = Args.Parse(args.Skip(1).ToArray());
if (args.FirstOrDefault() == LoraMemoryBench.ChildCommand)
{
    LoraMemoryBench.RunChild(opts.Get("contender", "full"), int.Parse(opts.Get("threads", "2")), int.Parse(opts.Get("steps", "2")), int.Parse(opts.Get("seq", "128")), int.Parse(opts.Get("rank", "8")));
    return;
}
string outDir = opts.Get("out", "bench/results");
Directory.CreateDirectory(outDir);
object result = args.FirstOrDefault() switch
{
    "throughput" => Throughput.Run(int.Parse(opts.Get("threads", "2")), int.Parse(opts.Get("batches", "150")), int.Parse(opts.Get("rounds", "3")), int.Parse(opts.Get("prefetch", "2"))),
    "allreduce" => AllReduceBench.Run(int.Parse(opts.Get("rounds", "20"))),
    "onnx" => OnnxBench.Run(int.Parse(opts.Get("threads", "2")), int.Parse(opts.Get("rounds", "5")), opts.Get("model-folder", null)),
    "decoder" => DecoderBench.Run(int.Parse(opts.Get("threads", "2")), int.Parse(opts.Get("prompt", "16")), int.Parse(opts.Get("new-tokens", "64")), int.Parse(opts.Get("layers", "12")),
        int.Parse(opts.Get("rounds", "3")), int.Parse(opts.Get("seq", "128")), int.Parse(opts.Get("latency-rounds", "10")),
        opts.Get("python", "/usr/bin/python3"), opts.Get("torch-script", "bench/gpt2_torch_onnx.py"), opts.Get("omp-wait", "passive")),
    "decoder-profile" => DecoderProfile.Run(opts.Get("dir", "bench/results/decoder-models"), int.Parse(opts.Get("threads", "2")), int.Parse(opts.Get("prompt", "16")),
        int.Parse(opts.Get("new-tokens", "64")), int.Parse(opts.Get("layers", "12")), opts.Get("variants", "int8,fp32"),
        opts.Get("torch-onnx", null), int.Parse(opts.Get("seq", "128"))),
    "diffusion-train" => DiffusionBench.Train(int.Parse(opts.Get("threads", "2")), int.Parse(opts.Get("batch", "128")), int.Parse(opts.Get("warmup", "3")),
        int.Parse(opts.Get("batches", "10")), int.Parse(opts.Get("rounds", "3")), opts.Get("unet", "default"), opts.Get("python", "/usr/bin/python3"), opts.Get("torch-script", "bench/pytorch_unet2d_train.py")),
    "diffusion-sampling" => DiffusionBench.Sampling(opts.Get("model", null), int.Parse(opts.Get("threads", "2")), int.Parse(opts.Get("batch", "64")), int.Parse(opts.Get("ddpm-steps", "1000")),
        double.Parse(opts.Get("guidance", "2"), System.Globalization.CultureInfo.InvariantCulture), int.Parse(opts.Get("rounds", "1"))),
    "unet" => UNetBench.Run(int.Parse(opts.Get("threads", "2")), int.Parse(opts.Get("batch", "16")), int.Parse(opts.Get("rounds", "5")), int.Parse(opts.Get("steps", "50")),
        opts.Get("python", "/usr/bin/python3"), opts.Get("torch-script", "bench/pytorch_unet2d.py")),
    "unet-profile" => UNetProfile.Run(int.Parse(opts.Get("threads", "2")), int.Parse(opts.Get("batch", "16")), int.Parse(opts.Get("rounds", "5"))),
    "lora" => LoraBench.Run(int.Parse(opts.Get("threads", "2")), int.Parse(opts.Get("steps", "3")), int.Parse(opts.Get("rounds", "3")), int.Parse(opts.Get("seq", "128")), int.Parse(opts.Get("rank", "8"))),
    "lora-memory" => LoraMemoryBench.Run(int.Parse(opts.Get("threads", "2")), int.Parse(opts.Get("steps", "2")), int.Parse(opts.Get("seq", "128")), int.Parse(opts.Get("rank", "8"))),
    "bf16-train" => Bf16TrainBench.Run(int.Parse(opts.Get("threads", "2")), int.Parse(opts.Get("rounds", "2")), int.Parse(opts.Get("warmup", "2")),
        double.Parse(opts.Get("step-scale", "1"), System.Globalization.CultureInfo.InvariantCulture), opts.Get("models", null)),
    "bf16-profile" => Bf16Profile.Run(int.Parse(opts.Get("threads", "1")), int.Parse(opts.Get("reps", "9"))),
    "bf16-micro" => Bf16MicroBench.Run(int.Parse(opts.Get("threads", "2")), int.Parse(opts.Get("rounds", "2"))),
    "tracking-train" => TrackingTrainBench.Run(int.Parse(opts.Get("threads", "2")), int.Parse(opts.Get("batches", "200")), int.Parse(opts.Get("rounds", "5"))),
    "tracking" => TrackingBench.Run(int.Parse(opts.Get("points", "1000000")), int.Parse(opts.Get("runs", "10000")), int.Parse(opts.Get("rounds", "5"))),
    "serving-baseline" => ServingBaseline.Run(opts.Get("model", "runs/lm/model-int8"), opts.Get("prompt", "The quick brown fox jumps over the lazy dog. Once upon a time"),
        int.Parse(opts.Get("new-tokens", "64")), int.Parse(opts.Get("rounds", "5")), int.Parse(opts.Get("threads", "0"))),
    "serving-step" => ServingStepProfile.Run(opts.Get("model", "runs/lm/model-int8"), int.Parse(opts.Get("threads", "2")), int.Parse(opts.Get("rows", "16")),
        int.Parse(opts.Get("prompt-tokens", "16")), int.Parse(opts.Get("rounds", "3"))),
    "accuracy" => Accuracy.Run(opts.Get("model", "cnn"), int.Parse(opts.Get("epochs", "5")), opts.Get("threads", null), opts.Get("schedule", null), int.Parse(opts.Get("seed", "0")), opts.Get("widths", null), opts.Get("label-smoothing", null) is string ls ? double.Parse(ls, System.Globalization.CultureInfo.InvariantCulture) : null),
    _ => throw new ArgumentException("usage: Tessera.Bench throughput|accuracy|onnx|lora|lora-memory|decoder [--option value ...]"),
};
// Named after the command and, when one was given, the model (e.g. accuracy-resnet.json, onnx-model.int8.json).
string? benchedModel = opts.Get("model", null);
string file = Path.Combine(outDir, benchedModel is null ? $"{args[0]}.json" : $"{args[0]}-{Path.GetFileName(benchedModel.TrimEnd('/'))}.json");
File.WriteAllText(file, JsonSerializer.Serialize(result, new JsonSerializerOptions { WriteIndented = true }));
Console.WriteLine($"wrote {file}");

namespace Tessera.Bench
{
    sealed class Args(Dictionary<string, string> values)
    {
        public static Args Parse(string[] args)
        {
            var d = new Dictionary<string, string>();
            for (int i = 0; i + 1 < args.Length; i += 2) d[args[i].TrimStart('-')] = args[i + 1];
            return new Args(d);
        }
        public string Get(string key, string? fallback) => values.TryGetValue(key, out var v) ? v : fallback!;
    }

    static class Rss
    {
        /// <summary>Resident set size of this process in MB (Linux /proc).</summary>
        public static double Megabytes()
        {
            foreach (var line in File.ReadLines("/proc/self/status"))
                if (line.StartsWith("VmRSS:")) return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1]) / 1024.0;
            return double.NaN;
        }
    }
}
