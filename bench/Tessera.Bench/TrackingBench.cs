using System.Diagnostics;
using Tessera.Tracking.Runs;

namespace Tessera.Bench;

/// <summary>
/// The runs store's costs: logging 1M metric points into one run (target &lt; 2 s in total), and listing 10k runs
/// with their latest metrics, what <c>tessera runs list --limit 10000</c> reads (target &lt; 200 ms).
/// </summary>
static class TrackingBench
{
    public static object Run(int points, int runs, int rounds)
    {
        string dir = Directory.CreateTempSubdirectory("tessera-bench-runs-").FullName;
        try
        {
            double logSeconds, logCpuSeconds, closeSeconds;
            var store = RunStore.Open(Path.Combine(dir, "log.db"));
            {
                var clock = Stopwatch.StartNew();
                var cpu = Process.GetCurrentProcess().TotalProcessorTime;
                using (var run = store.StartRun(new RunStartOptions { Name = "1M" }))
                {
                    for (int i = 0; i < points; i++) run.LogMetric(Keys[i % Keys.Length], i * 1e-6, i / Keys.Length);
                    run.End();
                }
                logSeconds = clock.Elapsed.TotalSeconds;
                logCpuSeconds = (Process.GetCurrentProcess().TotalProcessorTime - cpu).TotalSeconds;
                clock.Restart();
                store.Dispose(); // closing checkpoints what is still in the WAL into the database file
                closeSeconds = clock.Elapsed.TotalSeconds;
            }

            var fill = Stopwatch.StartNew();
            using var listStore = RunStore.Open(Path.Combine(dir, "list.db"));
            for (int i = 0; i < runs; i++)
            {
                using var run = listStore.StartRun(new RunStartOptions { Experiment = i % 2 == 0 ? "train" : "eval", Name = $"run-{i}" });
                run.LogParam("lr", "0.001");
                run.LogMetric("val_acc", 0.9, 100);
                run.LogMetric("val_loss", 0.3, 100);
                run.LogMetric("train_loss", 0.2, 100);
            }
            double fillSeconds = fill.Elapsed.TotalSeconds;
            var listTimes = new List<double>();
            var listCpu = new List<double>();
            int listed = 0;
            for (int r = 0; r < rounds; r++)
            {
                var clock = Stopwatch.StartNew();
                var cpu = Process.GetCurrentProcess().TotalProcessorTime;
                var all = listStore.ListRuns();
                var metrics = listStore.GetLatestMetrics(all.Select(x => x.Id));
                listTimes.Add(clock.Elapsed.TotalMilliseconds);
                listCpu.Add((Process.GetCurrentProcess().TotalProcessorTime - cpu).TotalMilliseconds);
                listed = all.Count + (metrics.Count - all.Count);
            }
            listTimes.Sort();
            listCpu.Sort();
            double listCpuMs = listCpu[listCpu.Count / 2];
            double listMs = listTimes[listTimes.Count / 2];
            // CPU time beside wall time: on a shared machine wall time also counts other jobs' turns.
            Console.WriteLine("| measurement | wall | CPU (this process) | target | met (wall) |");
            Console.WriteLine("|---|---|---|---|---|");
            Console.WriteLine($"| log {points:N0} metric points into one run (LogMetric + End) | {logSeconds:0.00} s ({points / logSeconds:N0} points/s) | {logCpuSeconds:0.00} s | < 2 s | {(logSeconds < 2 ? "yes" : "**no**")} |");
            Console.WriteLine($"| (after it) close the store: final WAL checkpoint | {closeSeconds * 1000:0} ms | | |");
            Console.WriteLine($"| list {listed:N0} runs with their latest metrics (median of {rounds}) | {listMs:0.0} ms | {listCpuMs:0.0} ms | < 200 ms | {(listMs < 200 ? "yes" : "**no**")} |");
            Console.WriteLine($"| (setup) start + log + end {runs:N0} runs | {fillSeconds:0.0} s ({runs / fillSeconds:N0} runs/s) | | |");
            return new { points, logSeconds, logCpuSeconds, closeSeconds, runs = listed, listMilliseconds = listMs, listCpuMilliseconds = listCpuMs, listRoundsMilliseconds = listTimes, fillSeconds };
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    static readonly string[] Keys = ["train_loss", "lr", "grad_norm", "val_loss", "val_acc", "tokens_per_s", "epoch", "step_time", "loss_scale", "momentum"];
}
