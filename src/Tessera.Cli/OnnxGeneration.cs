using Tessera.Runtime.Generation;
using Tessera.Text;
using Tessera.Text.Generation;

namespace Tessera.Cli;

/// <summary><c>tessera generate</c> on an exported decoder folder: tokenizes here, generates with ONNX Runtime (<see cref="OrtCausalLM"/>).</summary>
static class OnnxGeneration
{
    /// <summary>A folder with <c>model.onnx</c> and no safetensors weights: what <c>tessera export</c> writes for a causal LM.</summary>
    public static bool IsDecoderFolder(string folder) =>
        File.Exists(Path.Combine(folder, OrtCausalLM.ModelFileName)) && !Directory.EnumerateFiles(folder, "*.safetensors").Any();

    /// <summary>Writes the completion of <paramref name="prompt"/> (piece by piece when <paramref name="stream"/>), stopping after a stop string.</summary>
    public static void Run(string folder, string prompt, GenerationConfig config, bool stream, TextWriter output)
    {
        HfTokenizer tokenizer = AutoTokenizer.FromPretrained(folder);
        using var lm = OrtCausalLM.Load(folder);
        IReadOnlyList<int> eos = config.EosTokenIds.Count > 0 ? config.EosTokenIds
            : lm.EosTokenIds.Count > 0 ? lm.EosTokenIds
            : tokenizer.EosTokenId is int e ? [e] : [];
        var settings = new OrtGenerationSettings
        {
            MaxNewTokens = config.MaxNewTokens ?? GenerationConfig.DefaultMaxLength,
            DoSample = config.DoSample,
            Temperature = config.Temperature,
            TopK = config.TopK,
            TopP = config.TopP,
            RepetitionPenalty = config.RepetitionPenalty,
            Seed = config.Seed is long s ? unchecked((ulong)s) : (ulong)Random.Shared.NextInt64(),
            EosTokenIds = eos,
            TruncatePrompt = config.TruncatePrompt,
        };
        IReadOnlyList<int> ids = tokenizer.Encode(prompt).Ids;
        if (ids.Count == 0)
            ids = (config.BosTokenId ?? tokenizer.BosTokenId) is int bos ? [bos]
                : throw new ArgumentException("the prompt encodes to no tokens and there is no bos_token_id to start from", nameof(prompt));
        var decoder = tokenizer.CreateStreamingDecoder();
        var text = new System.Text.StringBuilder();
        var completion = new System.Text.StringBuilder();
        foreach (int id in lm.GenerateTokens(ids, settings).Append(-1))
        {
            string piece = id < 0 ? decoder.Flush() : decoder.Push(id);
            int before = text.Length;
            text.Append(piece);
            int end = StopEnd(text.ToString(), config.StopStrings);
            if (end >= 0) piece = piece[..Math.Max(0, end - before)];
            completion.Append(piece);
            if (stream)
            {
                output.Write(piece);
                output.Flush();
            }
            if (end >= 0) break;
        }
        if (!stream) output.Write(completion.ToString());
    }

    /// <summary>The end of the first stop string in <paramref name="text"/>, or -1.</summary>
    static int StopEnd(string text, IReadOnlyList<string>? stops)
    {
        int best = -1;
        foreach (string stop in stops ?? [])
        {
            int at = stop.Length == 0 ? -1 : text.IndexOf(stop, StringComparison.Ordinal);
            if (at >= 0 && (best < 0 || at + stop.Length < best)) best = at + stop.Length;
        }
        return best;
    }
}
