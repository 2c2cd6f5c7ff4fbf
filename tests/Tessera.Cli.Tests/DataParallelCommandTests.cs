using System.Diagnostics;
using System.Text.Json;

namespace Tessera.Cli.Tests;

/// <summary>`mpirun -np 2 tessera train ... --strategy ddp` with real Open MPI processes.</summary>
[Trait("Category", "Slow")]
[Collection(SeededAlone.Name)]
public sealed class DataParallelCommandTests : IDisposable
{
    readonly TempDirectory temp = new("tessera-ddp-");
    public void Dispose() => temp.Dispose();

    static readonly string Cli = typeof(Tessera.Cli.Cli).Assembly.Location;

    [Fact]
    public void Two_processes_with_batch_32_train_the_same_weights_as_one_with_batch_64()
    {
        Requires.Mpi();
        Requires.FashionMnist();
        Requires.Python("numpy");
        string[] common = ["train", "fashion-mnist", "--model", "cnn", "--epochs", "1", "--limit-train", "1280", "--val-size", "0", "--threads", "1"];
        var ddp = Mpirun(2, [.. common, "--batch-size", "32", "--strategy", "ddp", "--out", Path.Combine(temp.Path, "ddp")]);
        Assert.True(ddp.Code == 0, ddp.Output);
        Assert.Contains("per process x 2 processes", ddp.Output);
        var (code, _, err) = CliRunner.Run([.. common, "--batch-size", "64", "--out", Path.Combine(temp.Path, "single")]);
        Assert.True(code == 0, err);

        // Compared by an independent reader of the safetensors files.
        string diff = ReferencePython.Run("""
            import sys, json, struct, numpy as np
            def load(p):
                b = open(p, 'rb').read(); n = struct.unpack('<Q', b[:8])[0]; h = json.loads(b[8:8 + n])
                return {k: np.frombuffer(b[8 + n + v['data_offsets'][0]:8 + n + v['data_offsets'][1]], dtype=np.float32)
                        for k, v in h.items() if k != '__metadata__'}
            a, b = load(sys.argv[1]), load(sys.argv[2])
            assert sorted(a) == sorted(b)
            print(max(float(np.abs(a[k] - b[k]).max()) for k in a))
            """, Path.Combine(temp.Path, "single", "model", "model.safetensors"), Path.Combine(temp.Path, "ddp", "model", "model.safetensors"));
        // Exact in real numbers; in floats batch 64 and two summed batches of 32 round differently, and Adam's division by
        // sqrt(v) lifts that to 1e-7..1e-5 after 20 steps (measured 4e-7 and 1.1e-5). Without the gradient all-reduce the
        // replicas would each follow half the data and differ from the single run by ~1e-3 per step.
        Assert.True(double.Parse(diff, System.Globalization.CultureInfo.InvariantCulture) <= 5e-5, $"max weight difference {diff}");
    }

    [Fact]
    public void Lora_finetuning_with_two_processes_of_batch_2_trains_the_same_adapter_as_one_with_batch_4()
    {
        Requires.Mpi();
        Requires.Python("numpy");
        // A tiny GPT-2 without dropout (dropout masks are drawn per process, so replicas could not match one process).
        string folder = Path.Combine(temp.Path, "base");
        TorchSharp.torch.manual_seed(1);
        using (var model = new Tessera.Transformers.Gpt2LMHeadModel(new Tessera.Transformers.Gpt2Config
        {
            VocabSize = 257, NPositions = 64, NEmbd = 16, NLayer = 2, NHead = 2, EmbdPdrop = 0, ResidPdrop = 0, AttnPdrop = 0,
            EosTokenId = JsonSerializer.SerializeToElement(Tessera.Text.ByteVocabulary.EndOfTextId),
        }))
            model.SavePretrained(folder);
        Tessera.Text.ByteVocabulary.WriteTokenizerFiles(folder, 64);
        string data = Path.Combine(temp.Path, "data.jsonl");
        File.WriteAllLines(data, Enumerable.Range(0, 40).Select(i => $$"""{"text": "Q: what is {{i}} plus one? A: {{i + 1}}."}"""));
        string[] common = ["finetune", folder, "--data", data, "--lora-r", "4", "--lora-dropout", "0", "--max-steps", "6", "--block-size", "32",
            "--validate-every", "3", "--lr", "0.01"];
        var ddp = Mpirun(2, [.. common, "--batch-size", "2", "--strategy", "ddp", "--out", Path.Combine(temp.Path, "ddp")]);
        Assert.True(ddp.Code == 0, ddp.Output);
        Assert.False(File.Exists(Path.Combine(temp.Path, "ddp", "adapter", "adapter_model.safetensors.tmp")));
        var (code, _, err) = CliRunner.Run([.. common, "--batch-size", "4", "--out", Path.Combine(temp.Path, "single")]);
        Assert.True(code == 0, err);
        double diff = MaxWeightDifference(Path.Combine(temp.Path, "single", "adapter", "adapter_model.safetensors"), Path.Combine(temp.Path, "ddp", "adapter", "adapter_model.safetensors"));
        Assert.True(diff <= 5e-5, $"max adapter weight difference {diff}");
    }

    [Fact]
    public void Two_processes_train_the_same_tiny_gpt_as_one_with_twice_the_batch_over_50_steps()
    {
        Requires.Mpi();
        Requires.Python("numpy");
        // Byte tokens of made-up entries: 50 steps x 8 blocks x 33 tokens stay inside the first epoch, so no partial batch.
        string data = Path.Combine(temp.Path, "entries.txt");
        var random = new Random(3);
        File.WriteAllText(data, string.Join("\n%\n", Enumerable.Range(0, 600).Select(i =>
            $"entry {i}: " + string.Concat(Enumerable.Range(0, 30 + random.Next(40)).Select(_ => (char)('a' + random.Next(26)))))));
        string[] common = ["train", "lm", "--data", data, "--dropout", "0", "--max-steps", "50", "--block-size", "32", "--validate-every", "50",
            "--threads", "1", "--lr", LmLearningRate];
        var ddp = Mpirun(2, [.. common, "--batch-size", "4", "--strategy", "ddp", "--out", Path.Combine(temp.Path, "ddp")]);
        Assert.True(ddp.Code == 0, ddp.Output);
        var (code, _, err) = CliRunner.Run([.. common, "--batch-size", "8", "--out", Path.Combine(temp.Path, "single")]);
        Assert.True(code == 0, err);
        using (var saved = JsonDocument.Parse(File.ReadAllText(Path.Combine(temp.Path, "ddp", "model", "config.json"))))
            foreach (string key in (string[])["embd_pdrop", "attn_pdrop", "resid_pdrop"]) Assert.Equal(0, saved.RootElement.GetProperty(key).GetDouble());
        // Compared by an independent reader of the safetensors files, the attention key bias apart: its true gradient is
        // exactly 0 (adding the same q.b_k to every score of a softmax row changes nothing), so what arrives is float
        // rounding, different in the two summation orders, and Adam divides it by its own root mean square into steps
        // of about the learning rate in either direction. Measured after 50 steps at lr 1e-3: 2.4e-7 for every other
        // weight, 1.1e-5 for the key bias (without the all-reduce the replicas differ by ~1e-3).
        string[] diffs = ReferencePython.Run(LoadTwoSafetensors + """
            width = int(sys.argv[3]); rest = key = 0.0
            for k in a:
                d = np.abs(a[k] - b[k])
                if k.endswith('attn.c_attn.bias'):
                    key = max(key, float(d[width:2 * width].max())); d = np.concatenate([d[:width], d[2 * width:]])
                rest = max(rest, float(d.max()))
            print(rest, key)
            """, Path.Combine(temp.Path, "single", "model", "model.safetensors"), Path.Combine(temp.Path, "ddp", "model", "model.safetensors"), "128").Trim().Split(' ');
        double rest = double.Parse(diffs[0], System.Globalization.CultureInfo.InvariantCulture), keyBias = double.Parse(diffs[1], System.Globalization.CultureInfo.InvariantCulture);
        Assert.True(rest <= 1e-5, $"max weight difference outside the key bias {rest}");
        Assert.True(keyBias <= 1e-4, $"max key bias difference {keyBias}");
    }

    const string LmLearningRate = "1e-3";

    [Fact]
    public void Diffusion_with_two_processes_keeps_weights_and_ema_identical_and_writes_the_run_once()
    {
        Requires.Mpi();
        Requires.FashionMnist();
        string outDir = Path.Combine(temp.Path, "diffusion");
        // 64 images, batch 8 per process: 4 steps per epoch, 2 epochs.
        var ddp = Mpirun(2, ["train", "diffusion", "fashion-mnist", "--unet", "tiny", "--epochs", "2", "--limit-train", "64", "--batch-size", "8",
            "--sample-steps", "2", "--threads", "1", "--strategy", "ddp", "--out", outDir]);
        Assert.True(ddp.Code == 0, ddp.Output);
        Assert.Contains("per process x 2 processes", ddp.Output);
        // Every process checked its unet and EMA against rank 0's (a 64-bit checksum all-gather) and found them identical.
        Assert.Matches(@"weights and EMA identical on all 2 processes \(state sha256 [0-9a-f]{16}\)", ddp.Output);
        Assert.Single(System.Text.RegularExpressions.Regex.Matches(ddp.Output, "training a class-conditional UNet2D")); // rank 0 alone reports

        // Rank 0 alone wrote the run: one training-loss row per step, 1 to 8 (two writers would repeat or interleave them).
        string[] rows = File.ReadAllLines(Path.Combine(outDir, "metrics.csv"));
        var header = rows[0].Split(',');
        int stepColumn = Array.IndexOf(header, "step"), lossColumn = Array.IndexOf(header, "train_loss");
        Assert.True(stepColumn >= 0 && lossColumn >= 0, rows[0]);
        var steps = rows.Skip(1).Select(r => r.Split(',')).Where(c => c[lossColumn].Length > 0).Select(c => c[stepColumn]).ToArray();
        Assert.Equal(Enumerable.Range(1, 8).Select(i => $"{i}"), steps);
        foreach (string file in (string[])["model/model_index.json", "model/unet/diffusion_pytorch_model.safetensors", "model/README.md", "model/samples.png", "samples/epoch-1.png", "samples/epoch-2.png"])
            Assert.True(File.Exists(Path.Combine(outDir, file)), file);
        Assert.Contains("| epochs / steps | 2 / 8 (batch 8 per process x 2 processes, data-parallel) |", File.ReadAllText(Path.Combine(outDir, "model", "README.md")));
        Assert.Empty(Directory.GetFiles(outDir, "*.tmp", SearchOption.AllDirectories));
    }

    // An independent reader of the safetensors format (float32 tensors only): loads argv[1] and argv[2] as `a` and `b`
    // with the same tensor names.
    const string LoadTwoSafetensors = """
        import sys, json, struct, numpy as np
        def load(p):
            b = open(p, 'rb').read(); n = struct.unpack('<Q', b[:8])[0]; h = json.loads(b[8:8 + n])
            return {k: np.frombuffer(b[8 + n + v['data_offsets'][0]:8 + n + v['data_offsets'][1]], dtype=np.float32)
                    for k, v in h.items() if k != '__metadata__'}
        a, b = load(sys.argv[1]), load(sys.argv[2])
        assert sorted(a) == sorted(b) and len(a) > 0

        """;

    static double MaxWeightDifference(string left, string right) => double.Parse(ReferencePython.Run(LoadTwoSafetensors + """
        print(max(float(np.abs(a[k] - b[k]).max()) for k in a))
        """, left, right), System.Globalization.CultureInfo.InvariantCulture);

    [Fact]
    public void Killing_one_rank_ends_every_rank_and_the_run_resumes_from_its_last_checkpoint()
    {
        Requires.Mpi();
        Requires.FashionMnist();
        string outDir = Path.Combine(temp.Path, "killed");
        string[] args = ["train", "fashion-mnist", "--model", "cnn", "--epochs", "3", "--limit-train", "1280", "--val-size", "0",
            "--batch-size", "32", "--threads", "1", "--strategy", "ddp", "--out", outDir];
        using var mpirun = StartMpirun(2, args);
        string state = Path.Combine(outDir, "checkpoints", "last", "trainer_state.json");
        var wait = Stopwatch.StartNew();
        while (!File.Exists(state) && !mpirun.HasExited && wait.Elapsed < TimeSpan.FromMinutes(5)) Thread.Sleep(100); // polling for a file, not timing
        Assert.True(File.Exists(state), "no checkpoint appeared");
        int rank1 = FindRank(outDir, 1);
        Process.GetProcessById(rank1).Kill();
        var ended = Stopwatch.StartNew();
        Assert.True(mpirun.WaitForExit(TimeSpan.FromSeconds(30)), "the other rank did not end within 30 s");
        Assert.NotEqual(0, mpirun.ExitCode);
        Assert.True(ended.Elapsed < TimeSpan.FromSeconds(30));
        Assert.Empty(FindRanks(outDir)); // no process of the run is left

        using var checkpointState = JsonDocument.Parse(File.ReadAllText(state)); // still readable
        var resumed = Mpirun(2, [.. args, "--resume"]);
        Assert.True(resumed.Code == 0, resumed.Output);
        Assert.True(File.Exists(Path.Combine(outDir, "model", "model.safetensors")));
    }

    static (int Code, string Output) Mpirun(int processes, string[] args)
    {
        using var process = StartMpirun(processes, args);
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(TimeSpan.FromMinutes(10)))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException("mpirun did not finish in 10 minutes");
        }
        return (process.ExitCode, stdout.Result + stderr.Result);
    }

    static Process StartMpirun(int processes, string[] args)
    {
        var info = new ProcessStartInfo("mpirun") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in (string[])["-np", $"{processes}", "--allow-run-as-root", "--oversubscribe", "--bind-to", "none", "dotnet", Cli, .. args])
            info.ArgumentList.Add(a);
        return Process.Start(info) ?? throw new InvalidOperationException("could not start mpirun");
    }

    // The ranks of a run are the dotnet processes whose command line names its output folder.
    static Dictionary<int, int> FindRanks(string outDir)
    {
        var ranks = new Dictionary<int, int>();
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), out int pid)) continue;
            try
            {
                if (!File.ReadAllText(Path.Combine(dir, "cmdline")).Contains(outDir, StringComparison.Ordinal)) continue;
                var rank = File.ReadAllText(Path.Combine(dir, "environ")).Split('\0').FirstOrDefault(v => v.StartsWith("OMPI_COMM_WORLD_RANK=", StringComparison.Ordinal));
                if (rank is not null && !File.ReadAllText(Path.Combine(dir, "cmdline")).StartsWith("mpirun", StringComparison.Ordinal))
                    ranks[int.Parse(rank["OMPI_COMM_WORLD_RANK=".Length..], System.Globalization.CultureInfo.InvariantCulture)] = pid;
            }
            catch (IOException) { } // the process ended while we looked
            catch (UnauthorizedAccessException) { }
        }
        return ranks;
    }

    static int FindRank(string outDir, int rank) =>
        FindRanks(outDir).TryGetValue(rank, out int pid) ? pid : throw new InvalidOperationException($"rank {rank} of the run in {outDir} is not running");
}
