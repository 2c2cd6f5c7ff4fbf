using System.Diagnostics;
using Tessera.Runtime;
using Tessera.Runtime.Generation;
using Tessera.Text;
using Tessera.Text.Generation;

namespace Tessera.Bench;

/// <summary>
/// The reference for "server overhead": the library's own generation loop (<see cref="OrtCausalLM"/> +
/// <c>GenerateIds</c>, greedy, no EOS stop) on an exported folder, one sequence at a time, timed like a single-stream
/// client times the server: tokenize the prompt, prefill, generate all new tokens. tokens/s = new tokens / time.
/// </summary>
static class ServingBaseline
{
    public sealed record Result(string Model, int Threads, int PromptTokens, int NewTokens, int Rounds, double[] TokensPerSecond, double MedianTokensPerSecond);

    public static Result Run(string folder, string prompt, int newTokens, int rounds, int threads)
    {
        var tokenizer = AutoTokenizer.FromPretrained(folder);
        using var lm = OrtCausalLM.Load(folder, new OnnxSessionOptions { IntraOpThreads = threads });
        var settings = new GenerationConfig { MaxNewTokens = newTokens }.WithEosTokenIds([]);
        int[] ids = [.. tokenizer.Encode(prompt, addSpecialTokens: false).Ids];
        lm.GenerateIds(ids, settings); // warm-up
        var rates = new double[rounds];
        for (int r = 0; r < rounds; r++)
        {
            long start = Stopwatch.GetTimestamp();
            int[] prompted = [.. tokenizer.Encode(prompt, addSpecialTokens: false).Ids];
            int[] output = lm.GenerateIds(prompted, settings);
            int generated = output.Length - (output.Length >= prompted.Length + newTokens ? prompted.Length : 0);
            rates[r] = generated / Stopwatch.GetElapsedTime(start).TotalSeconds;
        }
        double median = rates.Order().ElementAt(rounds / 2);
        Console.WriteLine($"library loop ({folder}, {threads} threads, {ids.Length}-token prompt, {newTokens} new tokens, greedy): " +
            $"median {median:0.0} tokens/s over {rounds} rounds [{string.Join(", ", rates.Select(x => x.ToString("0.0")))}]");
        return new Result(folder, threads, ids.Length, newTokens, rounds, rates, median);
    }
}
