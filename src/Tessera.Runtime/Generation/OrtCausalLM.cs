using System.Text.Json;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

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
    /// <exception cref="ArgumentException">The prompt is empty or fills the context.</exception>
    public int[] Generate(IReadOnlyList<int> promptIds, OrtGenerationSettings? settings = null) => GenerateTokens(promptIds, settings).ToArray();

    /// <summary>
    /// Yields generated ids one at a time (each after one ONNX Runtime call): a prefill of the whole prompt, then one
    /// step per token with the presents fed back. Stops after <see cref="OrtGenerationSettings.MaxNewTokens"/>, after
    /// an EOS id (yielded), or when the context is full.
    /// </summary>
    /// <exception cref="ArgumentException">The prompt is empty or fills the context.</exception>
    public IEnumerable<int> GenerateTokens(IReadOnlyList<int> promptIds, OrtGenerationSettings? settings = null)
    {
        ArgumentNullException.ThrowIfNull(promptIds);
        if (promptIds.Count == 0) throw new ArgumentException("the prompt has no tokens", nameof(promptIds));
        settings ??= new OrtGenerationSettings();
        settings.Validate();
        int budget = settings.MaxNewTokens;
        if (MaxPositions is int max)
        {
            if (promptIds.Count >= max) throw new ArgumentException($"the prompt has {promptIds.Count} tokens; the model's context is {max} positions", nameof(promptIds));
            budget = Math.Min(budget, max - promptIds.Count);
        }
        return Loop(promptIds, settings, budget);
    }

    IEnumerable<int> Loop(IReadOnlyList<int> promptIds, OrtGenerationSettings settings, int budget)
    {
        var eos = new HashSet<int>(settings.EosTokenIds ?? EosTokenIds);
        var random = new DeterministicRandom(settings.Seed);
        var history = new List<int>(promptIds);
        long[] step = promptIds.Select(i => (long)i).ToArray();
        int past = 0;
        IDisposableReadOnlyCollection<OrtValue>? previous = null;
        var emptyPast = OrtValue.CreateAllocatedTensorValue(OrtAllocator.DefaultInstance, TensorElementType.Float, [1, KeyValueHeads, 0, HeadDim]);
        using var runOptions = new RunOptions();
        try
        {
            for (int produced = 0; produced < budget; produced++)
            {
                float[] scores = Run(step, past, previous, emptyPast, runOptions, out var results);
                previous?.Dispose();
                previous = results;
                past += step.Length;
                int next = TokenSampling.Next(scores, settings, history, random);
                history.Add(next);
                yield return next;
                if (eos.Contains(next)) yield break;
                step = [next];
            }
        }
        finally
        {
            previous?.Dispose();
            emptyPast.Dispose();
        }
    }

    /// <summary>One call: <paramref name="ids"/> as new tokens after <paramref name="past"/> cached ones; returns the last position's logits.</summary>
    float[] Run(long[] ids, int past, IDisposableReadOnlyCollection<OrtValue>? previous, OrtValue emptyPast, RunOptions runOptions,
        out IDisposableReadOnlyCollection<OrtValue> results)
    {
        int total = past + ids.Length;
        var owned = new List<OrtValue>
        {
            OrtValue.CreateTensorValueFromMemory(ids, [1, ids.Length]),
            OrtValue.CreateTensorValueFromMemory(Enumerable.Repeat(1L, total).ToArray(), [1, total]),
        };
        if (hasPositionIds)
            owned.Add(OrtValue.CreateTensorValueFromMemory(Enumerable.Range(past, ids.Length).Select(p => (long)p).ToArray(), [1, ids.Length]));
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
        long[] shape = results[0].GetTensorTypeAndShape().Shape;
        int vocab = (int)shape[^1];
        return results[0].GetTensorDataAsSpan<float>().Slice((ids.Length - 1) * vocab, vocab).ToArray();
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
