using System.Diagnostics;
using System.Text.RegularExpressions;
using Tessera.Tests.Shared;

namespace Tessera.Cli.Tests;

/// <summary>
/// <c>tessera train lm</c> keeps its resident memory flat: a child process (the real CLI, with the malloc settings its
/// entry point makes) validates every 10 steps, and its VmRSS after the first validation from step 50 on and after the one at step 300 are compared.
/// Before the mmap threshold was fixed (MallocArenas.FixMmapThreshold) each validation pass could add hundreds of MB.
/// </summary>
public class TrainLmMemoryTests : IDisposable
{
    const long AllowedGrowthBytes = 100L << 20;
    private readonly TempDirectory temp = new("tessera-cli-lm-rss-");
    public void Dispose() => temp.Dispose();

    // Experiment, not in the suite: growth is not fixed by default (bench/README.md, "train lm memory"), and 300 steps take ~15 min.
    [Trait("Category", "Experiment")]
    [Fact]
    public void Train_lm_resident_memory_stays_flat_across_validation_passes()
    {
        Assert.SkipUnless(OperatingSystem.IsLinux(), "reads /proc/<pid>/status");
        string cli = Path.Combine(AppContext.BaseDirectory, "Tessera.Cli.dll");
        Assert.True(File.Exists(cli), $"{cli} is missing from the test output");
        string data = Path.Combine(temp.Path, "fortunes");
        // About 150 kB of text: every 20th entry (about 50 blocks) is held out, so each validation pass is two batches.
        File.WriteAllText(data, string.Join("\n%\n", Enumerable.Range(0, 2000).Select(i => $"You will meet a tall stranger number {i}, who says {i * 7919 % 1000}.\n\t-- Fortune {i % 13}")) + "\n%\n");
        var start = new ProcessStartInfo(PackagingDotnet(), [cli, "train", "lm", "--data", data, "--max-steps", "300", "--batch-size", "32", "--block-size", "128",
            "--validate-every", "10", "--out", Path.Combine(temp.Path, "run")])
        {
            RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false,
        };
        start.Environment.Remove("MALLOC_ARENA_MAX");
        start.Environment.Remove("MALLOC_MMAP_THRESHOLD_");
        using var child = Process.Start(start)!;
        child.ErrorDataReceived += (_, _) => { };
        child.BeginErrorReadLine();
        var rss = new Dictionary<long, long>();
        var log = new List<string>();
        var validated = new Regex(@"step (\d+) .*val_loss");
        while (child.StandardOutput.ReadLine() is { } line)
        {
            log.Add(line);
            // The line is printed right after the pass, while the child goes on training: read its memory now.
            // Passes come every 10 steps within an epoch and at each epoch's end, so the first one from step 50 on is compared with the last.
            if (validated.Match(line) is { Success: true } m && long.Parse(m.Groups[1].Value) is long step and >= 50 && !rss.ContainsKey(step))
                rss[step] = VmRss(child.Id);
        }
        child.WaitForExit();
        Assert.True(child.ExitCode == 0, string.Join("\n", log));
        Assert.True(rss.Count >= 2 && rss.ContainsKey(300), "no validation lines from step 50 to 300:\n" + string.Join("\n", log));
        long first = rss.Keys.Min(), growth = rss[300] - rss[first];
        Assert.True(growth < AllowedGrowthBytes, $"VmRSS grew by {growth >> 20} MB from step {first} ({rss[first] >> 20} MB) to step 300 ({rss[300] >> 20} MB); allowed {AllowedGrowthBytes >> 20} MB");
    }

    static string PackagingDotnet() => Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host ? host : "dotnet";

    static long VmRss(int pid)
    {
        foreach (string line in File.ReadLines($"/proc/{pid}/status"))
            if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
                return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1]) * 1024;
        throw new InvalidOperationException($"/proc/{pid}/status has no VmRSS");
    }
}
