using System.Text.Json;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using Tessera.Text.Generation;

namespace Tessera.Runtime.Generation;

/// <summary>
/// Generates token ids with a decoder exported with past key/values (Tessera's <c>DecoderOnnxExporter</c> or Hugging
/// Face Optimum: inputs <c>input_ids</c>, <c>attention_mask</c>, <c>position_ids</c>,
/// <c>past_key_values.{i}.key/.value</c>; outputs <c>logits</c>, <c>present.{i}.key/.value</c>): one prefill of the
/// prompt, then one token per step with the presents fed back as the next pasts. Needs ONNX Runtime only; tokenizing
/// is the caller's (ids in, ids out).
/// </summary>
public sealed class OrtCausalLM : IDisposable
{
    /// <summary>The graph's file name inside an exported folder.</summary>
    public const string ModelFileName = "model.onnx";

    readonly InferenceSession session;
    readonly string[] inputNames;
    readonly string[] outputNames;
    readonly bool hasPositionIds;

    OrtCausalLM(InferenceSession session, string path, IReadOnlyList<int> eos, int? maxPositions)
    {
        this.session = session;
        ModelPath = path;
        EosTokenIds = eos;
        MaxPositions = maxPositions;
        NumLayers = session.InputMetadata.Keys.Count(n => n.StartsWith("past_key_values.", StringComparison.Ordinal) && n.EndsWith(".key", StringComparison.Ordinal));
        if (NumLayers == 0 || !session.InputMetadata.ContainsKey("input_ids") || !session.InputMetadata.ContainsKey("attention_mask") || !session.OutputMetadata.ContainsKey("logits"))
            throw new OnnxModelException(path, "not a decoder with past key/values: expected inputs input_ids, attention_mask, past_key_values.{i}.key/.value and output logits");
        int[] pastDims = session.InputMetadata["past_key_values.0.key"].Dimensions;
        if (pastDims.Length != 4 || pastDims[1] <= 0 || pastDims[3] <= 0)
            throw new OnnxModelException(path, $"past_key_values.0.key must be [batch, kv_heads, past, head_dim] with fixed heads and head size, got [{string.Join(", ", pastDims)}]");
        KeyValueHeads = pastDims[1];
        HeadDim = pastDims[3];
        hasPositionIds = session.InputMetadata.ContainsKey("position_ids");
        var inputs = new List<string> { "input_ids", "attention_mask" };
        if (hasPositionIds) inputs.Add("position_ids");
        var outputs = new List<string> { "logits" };
        for (int i = 0; i < NumLayers; i++)
        {
            inputs.Add($"past_key_values.{i}.key");
            inputs.Add($"past_key_values.{i}.value");
            outputs.Add($"present.{i}.key");
            outputs.Add($"present.{i}.value");
        }
        inputNames = [.. inputs];
        outputNames = [.. outputs];
    }

    /// <summary>The loaded <c>model.onnx</c>.</summary>
    public string ModelPath { get; }

    /// <summary>Decoder layers (pairs of past inputs).</summary>
    public int NumLayers { get; }

    /// <summary>Key/value heads per layer.</summary>
    public int KeyValueHeads { get; }

    /// <summary>Size of one attention head.</summary>
    public int HeadDim { get; }

    /// <summary>EOS ids from the folder's <c>generation_config.json</c> (else <c>config.json</c>); empty when neither names one.</summary>
    public IReadOnlyList<int> EosTokenIds { get; }

    /// <summary>The context length from <c>config.json</c> (<c>n_positions</c> or <c>max_position_embeddings</c>), or null.</summary>
    public int? MaxPositions { get; }

    /// <summary>Loads an exported folder (holding <c>model.onnx</c> and optionally <c>config.json</c>/<c>generation_config.json</c>) or an .onnx file.</summary>
    /// <param name="pathOrFolder">The folder or file.</param>
    /// <param name="options">Session options; null for the defaults.</param>
    /// <exception cref="OnnxModelException">The file is missing, ONNX Runtime rejects it, it is not a decoder with past key/values, or a JSON file is malformed.</exception>
    public static OrtCausalLM Load(string pathOrFolder, OnnxSessionOptions? options = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(pathOrFolder);
        string path = Directory.Exists(pathOrFolder) ? Path.Combine(pathOrFolder, ModelFileName) : pathOrFolder;
        if (!File.Exists(path)) throw new OnnxModelException(path, "file not found");
        string folder = Path.GetDirectoryName(Path.GetFullPath(path))!;
        JsonElement? generation = ReadJson(Path.Combine(folder, "generation_config.json"));
        JsonElement? config = ReadJson(Path.Combine(folder, "config.json"));
        IReadOnlyList<int> eos = Ids(generation, "eos_token_id") ?? Ids(config, "eos_token_id") ?? [];
        int? maxPositions = Int(config, "n_positions") ?? Int(config, "max_position_embeddings");
        InferenceSession session;
        try
        {
            using var so = OrtConversions.ToSessionOptions(options ?? new OnnxSessionOptions());
            session = new InferenceSession(path, so);
        }
        catch (OnnxRuntimeException e)
        {
            throw LoadErrors.Explain(path, e);
        }
        try
        {
            return new OrtCausalLM(session, path, eos, maxPositions);
        }
        catch
        {
            session.Dispose();
            throw;
        }
    }

    /// <summary>Generates up to <see cref="OrtGenerationSettings.MaxNewTokens"/> ids after <paramref name="promptIds"/>; stops after an EOS id (which is included).</summary>
    /// <exception cref="ArgumentException">The prompt is empty or fills the context (see <see cref="OrtGenerationSettings.TruncatePrompt"/>).</exception>
    public int[] Generate(IReadOnlyList<int> promptIds, OrtGenerationSettings? settings = null) => GenerateTokens(promptIds, settings).ToArray();

    /// <summary>
    /// Yields generated ids one at a time (each after one ONNX Runtime call): a prefill of the whole prompt, then one
    /// step per token with the presents fed back. Stops after <see cref="OrtGenerationSettings.MaxNewTokens"/>, after
    /// an EOS id (yielded), or when the context is full.
    /// </summary>
    /// <exception cref="ArgumentException">The prompt is empty or fills the context (see <see cref="OrtGenerationSettings.TruncatePrompt"/>).</exception>
    public IEnumerable<int> GenerateTokens(IReadOnlyList<int> promptIds, OrtGenerationSettings? settings = null)
    {
        ArgumentNullException.ThrowIfNull(promptIds);
        settings ??= new OrtGenerationSettings();
        var (fitted, budget) = Prepare([promptIds], settings);
        return Loop(fitted, settings, budget).Select(step => step[0]).TakeWhile(id => id >= 0);
    }

    /// <summary>
    /// Generates for several prompts at once: left-padded to the longest (padding masked out, positions counted over
    /// real tokens, as <c>transformers</c> does), one ONNX Runtime call per step for the whole batch. A row ends after
    /// its EOS id; the others go on. Sampling draws for the rows in order from one seeded generator.
    /// </summary>
    /// <returns>The generated ids of each prompt.</returns>
    /// <exception cref="ArgumentException">There are no prompts, a prompt is empty, or one fills the context (see <see cref="OrtGenerationSettings.TruncatePrompt"/>).</exception>
    public int[][] Generate(IReadOnlyList<IReadOnlyList<int>> prompts, OrtGenerationSettings? settings = null)
    {
        ArgumentNullException.ThrowIfNull(prompts);
        if (prompts.Count == 0) throw new ArgumentException("no prompts", nameof(prompts));
        settings ??= new OrtGenerationSettings();
        var (fitted, budget) = Prepare(prompts, settings);
        var generated = prompts.Select(_ => new List<int>()).ToArray();
        foreach (int[] step in Loop(fitted, settings, budget))
            for (int r = 0; r < step.Length; r++)
                if (step[r] >= 0) generated[r].Add(step[r]);
        return generated.Select(g => g.ToArray()).ToArray();
    }

    /// <summary>The prompts fitted into the context (<see cref="ContextWindow.FitPrompt"/>) and the number of steps to run.</summary>
    (IReadOnlyList<IReadOnlyList<int>> Prompts, int Budget) Prepare(IReadOnlyList<IReadOnlyList<int>> prompts, OrtGenerationSettings settings)
    {
        settings.Validate();
        if (prompts.Any(p => p is null || p.Count == 0)) throw new ArgumentException("a prompt has no tokens", nameof(prompts));
        IReadOnlyList<int>[] fitted = [.. prompts.Select(p => ContextWindow.FitPrompt(p, settings.MaxNewTokens, MaxPositions, settings.TruncatePrompt))];
        int width = fitted.Max(p => p.Count), budget = settings.MaxNewTokens;
        if (MaxPositions is int max) budget = Math.Min(budget, max - width);
        return (fitted, budget);
    }

    /// <summary>Yields each step's new id per row (-1 for rows already finished); ends when every row is finished or the budget is spent.</summary>
    IEnumerable<int[]> Loop(IReadOnlyList<IReadOnlyList<int>> prompts, OrtGenerationSettings settings, int budget)
    {
        var eosIds = settings.EosTokenIds ?? EosTokenIds;
        var eos = new HashSet<int>(eosIds);
        long pad = eosIds.Count > 0 ? eosIds[0] : 0;
        var random = new DeterministicRandom(settings.Seed);
        int batch = prompts.Count, width = prompts.Max(p => p.Count);
        var history = prompts.Select(p => new List<int>(p)).ToArray();
        var finished = new bool[batch];
        var mask = new List<long>[batch];
        long[] step = new long[batch * width];
        for (int r = 0; r < batch; r++)
        {
            int offset = width - prompts[r].Count;
            mask[r] = [.. Enumerable.Range(0, width).Select(k => k < offset ? 0L : 1L)];
            for (int k = 0; k < width; k++) step[r * width + k] = k < offset ? pad : prompts[r][k - offset];
        }
        IDisposableReadOnlyCollection<OrtValue>? previous = null;
        var emptyPast = OrtValue.CreateAllocatedTensorValue(OrtAllocator.DefaultInstance, TensorElementType.Float, [batch, KeyValueHeads, 0, HeadDim]);
        using var runOptions = new RunOptions();
        try
        {
            for (int produced = 0; produced < budget && !finished.All(f => f); produced++)
            {
                float[][] scores = Run(step, batch, mask, previous, emptyPast, runOptions, out var results);
                previous?.Dispose();
                previous = results;
                var next = new int[batch];
                for (int r = 0; r < batch; r++)
                {
                    if (finished[r]) { next[r] = -1; continue; }
                    next[r] = TokenSampling.Next(scores[r], settings, history[r], random);
                    history[r].Add(next[r]);
                    if (eos.Contains(next[r])) finished[r] = true;
                }
                yield return next;
                step = next.Select(id => id < 0 ? pad : id).ToArray();
                foreach (var m in mask) m.Add(1);
            }
        }
        finally
        {
            previous?.Dispose();
            emptyPast.Dispose();
        }
    }

    /// <summary>One call with <paramref name="ids"/> [batch, n] as the new tokens; returns each row's last-position logits.</summary>
    float[][] Run(long[] ids, int batch, List<long>[] mask, IDisposableReadOnlyCollection<OrtValue>? previous, OrtValue emptyPast, RunOptions runOptions,
        out IDisposableReadOnlyCollection<OrtValue> results)
    {
        int n = ids.Length / batch, total = mask[0].Count;
        long[] maskValues = mask.SelectMany(m => m).ToArray();
        var owned = new List<OrtValue>
        {
            OrtValue.CreateTensorValueFromMemory(ids, [batch, n]),
            OrtValue.CreateTensorValueFromMemory(maskValues, [batch, total]),
        };
        if (hasPositionIds) owned.Add(OrtValue.CreateTensorValueFromMemory(PositionIds(maskValues, batch, total, n), [batch, n]));
        var values = new List<OrtValue>(owned);
        for (int i = 0; i < 2 * NumLayers; i++) values.Add(previous is null ? emptyPast : previous[1 + i]);
        try
        {
            results = session.Run(runOptions, inputNames, values, outputNames);
        }
        catch (OnnxRuntimeException e)
        {
            throw new OnnxModelException(ModelPath, $"generation step failed: {e.Message}", e);
        }
        finally
        {
            foreach (var v in owned) v.Dispose();
        }
        int vocab = (int)results[0].GetTensorTypeAndShape().Shape[^1];
        ReadOnlySpan<float> logits = results[0].GetTensorDataAsSpan<float>();
        var rows = new float[batch][];
        for (int r = 0; r < batch; r++) rows[r] = logits.Slice(((r * n) + n - 1) * vocab, vocab).ToArray();
        return rows;
    }

    /// <summary>Positions of the last <paramref name="n"/> tokens: <c>cumsum(mask) − 1</c>, 1 on padding (as <c>transformers</c>' generate).</summary>
    static long[] PositionIds(long[] mask, int batch, int total, int n)
    {
        var positions = new long[batch * n];
        for (int r = 0; r < batch; r++)
        {
            long count = 0;
            for (int t = 0; t < total; t++)
            {
                if (mask[r * total + t] != 0) count++;
                int k = t - (total - n);
                if (k >= 0) positions[r * n + k] = mask[r * total + t] != 0 ? count - 1 : 1;
            }
        }
        return positions;
    }

    /// <inheritdoc/>
    public void Dispose() => session.Dispose();

    static JsonElement? ReadJson(string path)
    {
        if (!File.Exists(path)) return null;
        try
        {
            using var doc = JsonDocument.Parse(File.ReadAllText(path));
            return doc.RootElement.Clone();
        }
        catch (JsonException e)
        {
            throw new OnnxModelException(path, $"not valid JSON: {e.Message}", e);
        }
    }

    static IReadOnlyList<int>? Ids(JsonElement? json, string field)
    {
        if (json is not { ValueKind: JsonValueKind.Object } o || !o.TryGetProperty(field, out var v)) return null;
        return v.ValueKind switch
        {
            JsonValueKind.Number => [v.GetInt32()],
            JsonValueKind.Array => v.EnumerateArray().Where(e => e.ValueKind == JsonValueKind.Number).Select(e => e.GetInt32()).ToArray(),
            _ => null,
        };
    }

    static int? Int(JsonElement? json, string field) =>
        json is { ValueKind: JsonValueKind.Object } o && o.TryGetProperty(field, out var v) && v.ValueKind == JsonValueKind.Number ? v.GetInt32() : null;
}
