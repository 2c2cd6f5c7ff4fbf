using System.CommandLine;
using Tessera.Distributed;
using Tessera.Training;

namespace Tessera.Cli;

/// <summary>
/// <c>--strategy single|ddp</c> for the training commands. With ddp the command runs in every process mpirun started,
/// one data-parallel replica each; rank 0 prints and writes, and a failure in any process ends all of them.
/// </summary>
static class StrategyOption
{
    public static Option<string> Create() => new Option<string>("--strategy")
    {
        Description = "single (one process) or ddp (data-parallel over the processes mpirun started: mpirun -np N tessera train ... --strategy ddp; --batch-size is per process)",
        DefaultValueFactory = _ => "single",
    }.AcceptOnlyFromAmong("single", "ddp");

    /// <summary>Runs <paramref name="body"/> with the strategy <paramref name="name"/> asks for; its output goes to the console only on rank 0.</summary>
    public static int Run(string name, Func<TrainingStrategy, int> body)
    {
        if (name != "ddp") return body(SingleProcessStrategy.Instance);
        using var group = MpiProcessGroup.FromEnvironment();
        var strategy = new DataParallelStrategy(group);
        try
        {
            int code = body(strategy);
            group.Barrier(); // rank 0 has written everything before any process leaves
            if (group.Rank == 0 && strategy.AllReduceSteps > 0)
                Console.Out.WriteLine(string.Create(System.Globalization.CultureInfo.InvariantCulture,
                    $"gradient all-reduce: {strategy.AllReduceSeconds * 1e3 / strategy.AllReduceSteps:0.00} ms per step for {strategy.AllReduceBytes / (double)strategy.AllReduceSteps / 1e6:0.00} MB over {group.WorldSize} processes ({strategy.AllReduceSteps} steps; waiting for the slowest process included), after the backward pass (not overlapped)"));
            return code;
        }
        catch (Exception e) when (group.WorldSize > 1 && e is not DistributedException)
        {
            group.Abort(e.Message); // does not return: the other processes would otherwise wait for this one forever
            throw;
        }
    }
}
