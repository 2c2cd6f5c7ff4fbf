using System.Diagnostics;
using Tessera.Training;

namespace Tessera.Bench;

/// <summary>Helpers every bench shares.</summary>
static class BenchStats
{
    /// <summary>The median (mean of the middle two for an even count).</summary>
    public static double Median(IEnumerable<double> values)
    {
        var s = values.Order().ToArray();
        return s.Length % 2 == 1 ? s[s.Length / 2] : (s[s.Length / 2 - 1] + s[s.Length / 2]) / 2;
    }

    /// <summary>Prints a Markdown table (after a blank line): the header row, its separator, then the rows.</summary>
    public static void PrintTable(string[] header, params string[][] rows)
    {
        Console.WriteLine();
        Console.WriteLine($"| {string.Join(" | ", header)} |");
        Console.WriteLine($"|{string.Concat(Enumerable.Repeat("---|", header.Length))}");
        foreach (var row in rows) Console.WriteLine($"| {string.Join(" | ", row)} |");
    }
}

/// <summary>Times training batches after a warm-up, from the first timed batch's start to the last batch's end.</summary>
sealed class BatchTimer(int warmup) : Callback
{
    readonly Stopwatch clock = new();
    public TimeSpan Elapsed => clock.Elapsed;
    public override void OnTrainBatchStart(Trainer trainer, TrainingModuleBase module, int batchIndex)
    {
        if (batchIndex == warmup) clock.Start();
    }
    public override void OnFitEnd(Trainer trainer, TrainingModuleBase module) => clock.Stop();
}
