using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using Tessera.Formats;
using Tessera.Text.Generation;

namespace Tessera.Runtime.Generation;

/// <summary>
/// A decoder exported with past key/values (Tessera's <c>DecoderOnnxExporter</c> or Hugging Face Optimum: inputs
/// <c>input_ids</c>, <c>attention_mask</c>, optional <c>position_ids</c>, <c>past_key_values.{i}.key/.value</c>;
/// outputs <c>logits</c>, <c>present.{i}.key/.value</c>) as a generation back end: one prefill of the prompts, then one
/// token per step with the presents fed back as the next pasts. Needs ONNX Runtime only. Generate with the shared loop:
/// <c>lm.GenerateIds(ids, config)</c>, <c>lm.Generate(tokenizer, prompt, config)</c>, <c>lm.GenerateStream(...)</c>
/// (<see cref="CausalLMGeneration"/>), or <see cref="OrtTextGenerator"/> for a whole folder.
/// </summary>
public sealed class OrtCausalLM : ICausalLMBackend, IDisposable
{
    /// <summary>The graph's file name inside an exported folder.</summary>
    public const string ModelFileName = "model.onnx";

    readonly InferenceSession session;
    readonly string[] inputNames;
    readonly string[] outputNames;
    readonly bool hasPositionIds;

    OrtCausalLM(InferenceSession session, string path, ModelConfigInfo config)
    {
        this.session = session;
        ModelPath = path;
        SpecialTokenIds = config.SpecialTokenIds;
        MaxPositions = config.MaxPositions;
        NumLayers = session.InputMetadata.Keys.Count(n => n.StartsWith("past_key_values.", StringComparison.Ordinal) && n.EndsWith(".key", StringComparison.Ordinal));
        if (NumLayers == 0 || !session.InputMetadata.ContainsKey("input_ids") || !session.InputMetadata.ContainsKey("attention_mask") || !session.OutputMetadata.ContainsKey("logits"))
            throw new OnnxModelException(path, "not a decoder with past key/values: expected inputs input_ids, attention_mask, past_key_values.{i}.key/.value and output logits");
        int[] pastDims = session.InputMetadata["past_key_values.0.key"].Dimensions;
        if (pastDims.Length != 4 || pastDims[1] <= 0 || pastDims[3] <= 0)
            throw new OnnxModelException(path, $"past_key_values.0.key must be [batch, kv_heads, past, head_dim] with fixed heads and head size, got [{string.Join(", ", pastDims)}]");
        KeyValueHeads = pastDims[1];
        HeadDim = pastDims[3];
        int[] logitDims = session.OutputMetadata["logits"].Dimensions;
        VocabSize = logitDims.Length == 3 && logitDims[2] > 0 ? logitDims[2]
            : config.VocabSize ?? throw new OnnxModelException(path, "the vocabulary size is unknown: the logits' last dimension is dynamic and there is no config.json with vocab_size");
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

    /// <summary>The last dimension of <c>logits</c> (else <c>vocab_size</c> from <c>config.json</c>).</summary>
    public int VocabSize { get; }

    /// <summary>The context length from <c>config.json</c> (<c>n_positions</c> or <c>max_position_embeddings</c>), or null.</summary>
    public int? MaxPositions { get; }

    /// <summary>EOS, BOS and pad ids from the folder's <c>config.json</c> (none when there is none).</summary>
    public SpecialTokenIds SpecialTokenIds { get; }

    /// <summary>
    /// Loads an exported folder (holding <c>model.onnx</c> at its root or in <c>onnx/</c>, and optionally <c>config.json</c>
    /// at its root) or an .onnx file (with <c>config.json</c> beside it, if any).
    /// </summary>
    /// <param name="pathOrFolder">The folder or file.</param>
    /// <param name="options">Session options; null for the defaults.</param>
    /// <exception cref="OnnxModelException">The file is missing, ONNX Runtime rejects it, or it is not a decoder with past key/values.</exception>
    /// <exception cref="TesseraFormatException">config.json is malformed.</exception>
    public static OrtCausalLM Load(string pathOrFolder, OnnxSessionOptions? options = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(pathOrFolder);
        bool folder = Directory.Exists(pathOrFolder);
        string path = folder ? OnnxModel.FindModelFile(pathOrFolder) ?? Path.Combine(pathOrFolder, ModelFileName) : pathOrFolder;
        if (!File.Exists(path)) throw new OnnxModelException(path, "file not found");
        var config = ModelConfigInfo.Load(folder ? pathOrFolder : Path.GetDirectoryName(Path.GetFullPath(path))!);
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
            return new OrtCausalLM(session, path, config);
        }
        catch
        {
            session.Dispose();
            throw;
        }
    }

    /// <inheritdoc/>
    public ICausalLMState Begin(int batchSize)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(batchSize);
        return new State(this, batchSize);
    }

    /// <summary>The presents of the last call, fed back as the next call's pasts.</summary>
    sealed class State(OrtCausalLM lm, int batch) : ICausalLMState
    {
        readonly RunOptions runOptions = new();
        readonly OrtValue emptyPast = OrtValue.CreateAllocatedTensorValue(OrtAllocator.DefaultInstance, TensorElementType.Float, [batch, lm.KeyValueHeads, 0, lm.HeadDim]);
        IDisposableReadOnlyCollection<OrtValue>? previous;

        public void Forward(ReadOnlySpan<long> inputIds, ReadOnlySpan<long> attentionMask, Span<float> logits)
        {
            int n = inputIds.Length / batch, total = attentionMask.Length / batch;
            long[] mask = attentionMask.ToArray();
            var owned = new List<OrtValue>
            {
                OrtValue.CreateTensorValueFromMemory(inputIds.ToArray(), [batch, n]),
                OrtValue.CreateTensorValueFromMemory(mask, [batch, total]),
            };
            if (lm.hasPositionIds) owned.Add(OrtValue.CreateTensorValueFromMemory(PositionIds(mask, batch, total, n), [batch, n]));
            var values = new List<OrtValue>(owned);
            for (int i = 0; i < 2 * lm.NumLayers; i++) values.Add(previous is null ? emptyPast : previous[1 + i]);
            IDisposableReadOnlyCollection<OrtValue> results;
            try
            {
                results = lm.session.Run(runOptions, lm.inputNames, values, lm.outputNames);
            }
            catch (OnnxRuntimeException e)
            {
                throw new OnnxModelException(lm.ModelPath, $"generation step failed: {e.Message}", e);
            }
            finally
            {
                foreach (var v in owned) v.Dispose();
            }
            previous?.Dispose();
            previous = results;
            int vocab = lm.VocabSize;
            long[] shape = results[0].GetTensorTypeAndShape().Shape;
            if (shape.Length != 3 || shape[0] != batch || shape[2] != vocab)
                throw new OnnxModelException(lm.ModelPath, $"logits must be [{batch}, sequence, {vocab}], got [{string.Join(", ", shape)}]");
            int seq = (int)shape[1];
            ReadOnlySpan<float> all = results[0].GetTensorDataAsSpan<float>();
            for (int r = 0; r < batch; r++) all.Slice(((r * seq) + seq - 1) * vocab, vocab).CopyTo(logits.Slice(r * vocab, vocab));
        }

        public void Dispose()
        {
            previous?.Dispose();
            emptyPast.Dispose();
            runOptions.Dispose();
        }
    }

    /// <summary>
    /// The <c>position_ids</c> input for the last <paramref name="n"/> of <paramref name="total"/> positions of a
    /// left-padded batch: <c>cumsum(mask) − 1</c>, and 1 on padding (as <c>transformers</c>' generate does).
    /// </summary>
    /// <param name="mask">The attention mask, [batch, total] row-major.</param>
    /// <param name="batch">Rows.</param>
    /// <param name="total">Positions per row so far.</param>
    /// <param name="n">How many of the last positions to return.</param>
    /// <returns>[batch, n] row-major.</returns>
    public static long[] PositionIds(long[] mask, int batch, int total, int n)
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
}
