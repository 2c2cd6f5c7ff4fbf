using System.Diagnostics;
using Tessera.Distributed;

namespace Tessera.Bench;

/// <summary>
/// Gradient all-reduce cost over the processes mpirun started (run under <c>mpirun -np N</c>): for gradient sizes
/// of Tessera's models, the mean time of an in-place float sum and the bus bandwidth 2(N-1)/N x bytes / time
/// (the figure NCCL's tests report, comparable across world sizes).
/// </summary>
static class AllReduceBench
{
    public sealed record Row(string Gradient, long Floats, double Milliseconds, double AlgorithmGBps, double BusGBps);

    static long Parameters(string model)
    {
        using var network = Tessera.Transformers.AutoModelForImageClassification.FromConfig(Tessera.Transformers.AutoConfig.ForModel(model));
        return network.parameters().Sum(p => p.numel());
    }

    public static object Run(int rounds)
    {
        using var group = MpiProcessGroup.FromEnvironment();
        (string Name, long Floats)[] sizes =
        [
            ("cnn (Fashion-MNIST default)", Parameters("cnn")), ("resnet (Fashion-MNIST default)", Parameters("resnet")),
            ("25 MB bucket", 25L << 18), ("GPT-2 small (124,439,808)", 124_439_808),
        ];
        var rows = new List<Row>();
        foreach (var (name, floats) in sizes)
        {
            var data = new float[floats];
            data.AsSpan().Fill(1f);
            group.AllReduceSum(data); // warm-up: connections and pages
            group.Barrier();
            var clock = Stopwatch.StartNew();
            for (int r = 0; r < rounds; r++) group.AllReduceSum(data);
            double seconds = clock.Elapsed.TotalSeconds / rounds;
            double bytes = floats * 4.0;
            double algorithm = bytes / seconds / 1e9;
            rows.Add(new Row(name, floats, seconds * 1e3, algorithm, algorithm * 2 * (group.WorldSize - 1) / group.WorldSize));
        }
        if (group.Rank == 0)
        {
            Console.WriteLine($"all-reduce (sum, in place, float32) over {group.WorldSize} processes, mean of {rounds} rounds");
            Console.WriteLine($"{"gradient",-32} {"floats",12} {"ms",10} {"algo GB/s",10} {"bus GB/s",10}");
            foreach (var row in rows) Console.WriteLine($"{row.Gradient,-32} {row.Floats,12} {row.Milliseconds,10:0.000} {row.AlgorithmGBps,10:0.00} {row.BusGBps,10:0.00}");
        }
        group.Barrier();
        return new { group.WorldSize, Rounds = rounds, Rows = rows };
    }
}
