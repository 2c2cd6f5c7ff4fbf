using System.Globalization;
using Tessera.Tracking.Runs;

// Usage:
//   StoreWriter <db> metrics <count> <name>   start a run, log <count> metric points, end it; prints the run id
//   StoreWriter <db> hang <name>              start a run, print its id, then block until killed
//   StoreWriter <db> flood <name>             start a run, print its id, then write metric batches until killed
if (args.Length < 3) { Console.Error.WriteLine("usage: StoreWriter <db> metrics <count> <name> | hang <name>"); return 2; }
using var store = RunStore.Open(args[0]);
if (args[1] == "metrics")
{
    int count = int.Parse(args[2], CultureInfo.InvariantCulture);
    // Small batches, so the two writers' transactions interleave many times.
    using var smallBatches = RunStore.Open(args[0], new RunStoreOptions { MetricBatchSize = 500 });
    using var run = smallBatches.StartRun(new RunStartOptions { Name = args[3], Experiment = "concurrency" });
    Console.WriteLine(run.Id);
    for (int i = 0; i < count; i++) run.LogMetric("loss", i * 0.5, i);
    run.End();
    return 0;
}
if (args[1] == "hang")
{
    var run = store.StartRun(new RunStartOptions { Name = args[2], Experiment = "crash" });
    run.LogMetric("loss", 1.0, 0);
    run.Flush();
    Console.WriteLine(run.Id);
    Console.Out.Flush();
    Console.In.ReadLine(); // the test kills the process while it waits here
    return 0;
}
if (args[1] == "flood")
{
    // Writes batches forever, saying after each; the crash test kills it in the middle of one.
    var run = store.StartRun(new RunStartOptions { Name = args[2], Experiment = "crash" });
    Console.WriteLine(run.Id);
    for (long batch = 0; ; batch++)
    {
        for (int i = 0; i < 2000; i++) run.LogMetric("loss", i, batch * 2000 + i);
        run.Flush();
        Console.WriteLine($"batch {batch}");
    }
}
Console.Error.WriteLine($"unknown mode {args[1]}");
return 2;
