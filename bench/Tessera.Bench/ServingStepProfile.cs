using System.Diagnostics;
using Tessera.Serving;

namespace Tessera.Bench;

/// <summary>
/// Where a continuous-batching decode step of <c>tessera serve</c> spends its time: <see cref="OrtServingDecoder"/>
/// driven directly (no HTTP, no sampling). Times a 1-row step, a prefill of one prompt, a prefill of
/// <c>rows</c> prompts together, a <c>rows</c>-row step (ORT Run plus our mask/position/logits work), and the step
/// right after a row left and one joined (which then also rebuilds the batch's pasts).
/// </summary>
static class ServingStepProfile
{
    public sealed record Result(string Model, int Threads, int Rows, int PromptTokens, int Rounds,
        double Step1Ms, double PrefillOneMs, double PrefillManyMs, double StepManyMs, double StepAfterLeaveMs, double StepAfterJoinMs, double SecondStepAfterLeaveMs);

    public static Result Run(string folder, int threads, int rows, int promptTokens, int rounds)
    {
        using var decoder = OrtServingDecoder.Load(folder, threads);
        int vocab = decoder.VocabSize;
        var logits = new float[rows * vocab];
        int[] prompt = [.. Enumerable.Range(0, promptTokens).Select(i => 100 + i * 37 % 5000)];
        var next = new long[rows];
        Array.Fill(next, 262L);
        double Median(List<double> xs) => xs.Order().ElementAt(xs.Count / 2);
        var step1 = new List<double>(); var prefillOne = new List<double>(); var prefillMany = new List<double>();
        var stepMany = new List<double>(); var afterLeave = new List<double>(); var afterJoin = new List<double>(); var afterLeave2 = new List<double>();
        using var batch = decoder.CreateBatch(); // one batch throughout, as the server's scheduler keeps one
        for (int round = 0; round <= rounds; round++) // round 0 warms up
        {
            while (batch.Count > 0) batch.Remove(batch.Count - 1);
            long t = Stopwatch.GetTimestamp();
            batch.Add(prompt, logits.AsSpan(0, vocab));
            double one = Ms(t);
            for (int s = 0; s < 3; s++)
            {
                t = Stopwatch.GetTimestamp();
                batch.Step(next.AsSpan(0, 1), logits.AsSpan(0, vocab));
                if (round > 0) step1.Add(Ms(t));
            }
            t = Stopwatch.GetTimestamp();
            var adds = new int[rows - 1].Select(_ => prompt).ToList();
            foreach (var p in adds) batch.Add(p, logits.AsSpan(0, vocab));
            double many = Ms(t);
            batch.Step(next.AsSpan(0, rows), logits); // merges the joiners in
            for (int s = 0; s < 4; s++)
            {
                t = Stopwatch.GetTimestamp();
                batch.Step(next.AsSpan(0, rows), logits);
                if (round > 0) stepMany.Add(Ms(t));
            }
            batch.Remove(rows / 2);
            t = Stopwatch.GetTimestamp();
            batch.Step(next.AsSpan(0, rows - 1), logits);
            double leave = Ms(t);
            t = Stopwatch.GetTimestamp();
            batch.Step(next.AsSpan(0, rows - 1), logits);
            double leave2 = Ms(t);
            batch.Add(prompt, logits.AsSpan(0, vocab));
            t = Stopwatch.GetTimestamp();
            batch.Step(next.AsSpan(0, rows), logits);
            double join = Ms(t);
            if (round > 0) { prefillOne.Add(one); prefillMany.Add(many); afterLeave.Add(leave); afterJoin.Add(join); afterLeave2.Add(leave2); }
        }
        var result = new Result(folder, threads, rows, promptTokens, rounds, Median(step1), Median(prefillOne), Median(prefillMany),
            Median(stepMany), Median(afterLeave), Median(afterJoin), Median(afterLeave2));
        Console.WriteLine($"serving step profile ({folder}, {threads} threads, {promptTokens}-token prompts, medians of {rounds}): " +
            $"1-row step {result.Step1Ms:0.0} ms; prefill 1 prompt {result.PrefillOneMs:0.0} ms, {rows - 1} prompts {result.PrefillManyMs:0.0} ms; " +
            $"{rows}-row step {result.StepManyMs:0.0} ms; step after a leave {result.StepAfterLeaveMs:0.0} ms, the next one {result.SecondStepAfterLeaveMs:0.0} ms; after a join {result.StepAfterJoinMs:0.0} ms; load {File.ReadAllText("/proc/loadavg").Split(' ')[0]}");
        return result;
    }

    static double Ms(long start) => Stopwatch.GetElapsedTime(start).TotalMilliseconds;
}
