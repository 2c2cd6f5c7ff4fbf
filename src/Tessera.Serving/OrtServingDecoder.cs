using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using Tessera.Runtime;
using Tessera.Runtime.Generation;
using Tessera.Text.Generation;

namespace Tessera.Serving;

/// <summary>
/// An exported decoder folder (<c>model.onnx</c> with <c>input_ids</c>, <c>attention_mask</c>, <c>position_ids</c>,
/// <c>past_key_values.{i}.key/.value</c> in and <c>logits</c>, <c>present.{i}.key/.value</c> out, as Tessera's exporter
/// writes it) served with continuous batching. A batch keeps one [rows, kv_heads, past, head_dim] past per layer; each
/// row sits right-aligned in it (left padding, masked out by <c>attention_mask</c>, positions from <c>position_ids</c>),
/// so rows of different lengths step together. A new row is prefilled alone and copied in; a leaving row is copied out.
/// </summary>
public sealed class OrtServingDecoder : IServingDecoder
{
    readonly InferenceSession session;
    readonly string[] inputNames, outputNames;
    readonly int layers, heads, headDim;

    OrtServingDecoder(InferenceSession session, string path, ModelConfigInfo config)
    {
        this.session = session;
        ModelPath = path;
        SpecialTokenIds = config.SpecialTokenIds;
        MaxPositions = config.MaxPositions;
        var inputs = session.InputMetadata;
        layers = inputs.Keys.Count(n => n.StartsWith("past_key_values.", StringComparison.Ordinal) && n.EndsWith(".key", StringComparison.Ordinal));
        if (layers == 0 || !inputs.ContainsKey("input_ids") || !inputs.ContainsKey("attention_mask") || !inputs.ContainsKey("position_ids") || !session.OutputMetadata.ContainsKey("logits"))
            throw new OnnxModelException(path, "serving needs a decoder with inputs input_ids, attention_mask, position_ids, past_key_values.{i}.key/.value and output logits (what tessera export writes)");
        var past = inputs["past_key_values.0.key"];
        if (past.ElementDataType != TensorElementType.Float || past.Dimensions.Length != 4 || past.Dimensions[1] <= 0 || past.Dimensions[3] <= 0)
            throw new OnnxModelException(path, $"past_key_values.0.key must be float [batch, kv_heads, past, head_dim] with fixed heads and head size, got {past.ElementDataType} [{string.Join(", ", past.Dimensions)}]");
        heads = past.Dimensions[1];
        headDim = past.Dimensions[3];
        int[] logitDims = session.OutputMetadata["logits"].Dimensions;
        VocabSize = logitDims.Length == 3 && logitDims[2] > 0 ? logitDims[2]
            : config.VocabSize ?? throw new OnnxModelException(path, "the vocabulary size is unknown: the logits' last dimension is dynamic and config.json has no vocab_size");
        var inNames = new List<string> { "input_ids", "attention_mask", "position_ids" };
        var outNames = new List<string> { "logits" };
        for (int i = 0; i < layers; i++)
        {
            inNames.AddRange([$"past_key_values.{i}.key", $"past_key_values.{i}.value"]);
            outNames.AddRange([$"present.{i}.key", $"present.{i}.value"]);
        }
        inputNames = [.. inNames];
        outputNames = [.. outNames];
    }

    /// <summary>The loaded <c>model.onnx</c>.</summary>
    public string ModelPath { get; }

    /// <inheritdoc/>
    public int VocabSize { get; }

    /// <inheritdoc/>
    public int? MaxPositions { get; }

    /// <inheritdoc/>
    public SpecialTokenIds SpecialTokenIds { get; }

    /// <summary>Loads <c>model.onnx</c> and <c>config.json</c> of an exported decoder folder.</summary>
    /// <param name="folder">The folder.</param>
    /// <param name="intraOpThreads">ONNX Runtime's threads per step; 0 for its default (one per core).</param>
    /// <exception cref="OnnxModelException">The model is missing, rejected by ONNX Runtime, or lacks the inputs serving needs.</exception>
    public static OrtServingDecoder Load(string folder, int intraOpThreads = 0)
    {
        string path = Path.Combine(folder, OrtCausalLM.ModelFileName);
        if (!File.Exists(path)) throw new OnnxModelException(path, "file not found");
        var config = ModelConfigInfo.Load(folder);
        using var options = new SessionOptions { GraphOptimizationLevel = Microsoft.ML.OnnxRuntime.GraphOptimizationLevel.ORT_ENABLE_ALL };
        if (intraOpThreads > 0) options.IntraOpNumThreads = intraOpThreads;
        InferenceSession session;
        try
        {
            session = new InferenceSession(path, options);
        }
        catch (OnnxRuntimeException e)
        {
            throw new OnnxModelException(path, $"ONNX Runtime could not load it: {e.Message}", e);
        }
        try
        {
            return new OrtServingDecoder(session, path, config);
        }
        catch
        {
            session.Dispose();
            throw;
        }
    }

    /// <inheritdoc/>
    public IDecoderBatch CreateBatch() => new Batch(this);

    /// <inheritdoc/>
    public void Dispose() => session.Dispose();

    sealed class Batch(OrtServingDecoder m) : IDecoderBatch
    {
        readonly RunOptions runOptions = new();
        readonly List<int> lengths = [];
        OrtValue[] pasts = [];        // 2 * layers values [rows, heads, width, headDim]
        IDisposable? pastOwner;       // the run results or the values this batch allocated
        int width;                    // the padded past length

        public int Count => lengths.Count;

        public void Add(IReadOnlyList<int> promptIds, Span<float> logits)
        {
            if (promptIds.Count == 0) throw new ArgumentException("a prompt has no tokens", nameof(promptIds));
            int n = promptIds.Count;
            long[] ids = [.. promptIds.Select(i => (long)i)];
            long[] mask = [.. Enumerable.Repeat(1L, n)];
            long[] positions = [.. Enumerable.Range(0, n).Select(i => (long)i)];
            using var empty = OrtValue.CreateAllocatedTensorValue(OrtAllocator.DefaultInstance, TensorElementType.Float, [1, m.heads, 0, m.headDim]);
            using var results = Run(ids, mask, positions, 1, n, [.. Enumerable.Repeat(empty, 2 * m.layers)]);
            CopyLastLogits(results[0], 1, logits);
            var rows = lengths.Select((len, r) => (Source: pasts, Row: r, Width: width, Length: len)).ToList();
            var single = Enumerable.Range(0, 2 * m.layers).Select(i => results[1 + i]).ToArray();
            rows.Add((single, 0, n, n));
            Rebuild(rows);
            lengths.Add(n);
        }

        public void Step(ReadOnlySpan<long> nextIds, Span<float> logits)
        {
            int rows = Count;
            if (nextIds.Length != rows) throw new ArgumentException($"expected {rows} ids, got {nextIds.Length}", nameof(nextIds));
            int total = width + 1;
            var mask = new long[rows * total];
            var positions = new long[rows];
            for (int r = 0; r < rows; r++)
            {
                mask.AsSpan(r * total + width - lengths[r], lengths[r] + 1).Fill(1);
                positions[r] = lengths[r];
            }
            var results = Run(nextIds.ToArray(), mask, positions, rows, 1, pasts);
            CopyLastLogits(results[0], rows, logits);
            pastOwner?.Dispose();
            pastOwner = results;
            pasts = [.. Enumerable.Range(0, 2 * m.layers).Select(i => results[1 + i])];
            width = total;
            for (int r = 0; r < rows; r++) lengths[r]++;
        }

        public void Remove(int index)
        {
            ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(index, Count);
            var rows = lengths.Select((len, r) => (Source: pasts, Row: r, Width: width, Length: len)).Where(x => x.Row != index).ToList();
            lengths.RemoveAt(index);
            Rebuild(rows);
        }

        IDisposableReadOnlyCollection<OrtValue> Run(long[] ids, long[] mask, long[] positions, int rows, int n, OrtValue[] pastValues)
        {
            using var idsValue = OrtValue.CreateTensorValueFromMemory(ids, [rows, n]);
            using var maskValue = OrtValue.CreateTensorValueFromMemory(mask, [rows, mask.Length / rows]);
            using var positionValue = OrtValue.CreateTensorValueFromMemory(positions, [rows, n]);
            OrtValue[] values = [idsValue, maskValue, positionValue, .. pastValues];
            try
            {
                return m.session.Run(runOptions, m.inputNames, values, m.outputNames);
            }
            catch (OnnxRuntimeException e)
            {
                throw new OnnxModelException(m.ModelPath, $"decode step failed: {e.Message}", e);
            }
        }

        void CopyLastLogits(OrtValue value, int rows, Span<float> logits)
        {
            long[] shape = value.GetTensorTypeAndShape().Shape;
            int vocab = m.VocabSize;
            if (shape.Length != 3 || shape[0] != rows || shape[2] != vocab)
                throw new OnnxModelException(m.ModelPath, $"logits must be [{rows}, sequence, {vocab}], got [{string.Join(", ", shape)}]");
            int seq = (int)shape[1];
            ReadOnlySpan<float> all = value.GetTensorDataAsSpan<float>();
            for (int r = 0; r < rows; r++) all.Slice((r * seq + seq - 1) * vocab, vocab).CopyTo(logits.Slice(r * vocab, vocab));
        }

        /// <summary>New pasts holding <paramref name="rows"/> (each its last Length positions of its source), right-aligned and zero-padded.</summary>
        void Rebuild(List<(OrtValue[] Source, int Row, int Width, int Length)> rows)
        {
            int newWidth = rows.Count == 0 ? 0 : rows.Max(r => r.Length);
            var fresh = new OrtValue[rows.Count == 0 ? 0 : 2 * m.layers];
            int block = m.headDim;
            for (int i = 0; i < fresh.Length; i++)
            {
                var value = OrtValue.CreateAllocatedTensorValue(OrtAllocator.DefaultInstance, TensorElementType.Float, [rows.Count, m.heads, newWidth, m.headDim]);
                Span<float> target = value.GetTensorMutableDataAsSpan<float>();
                target.Clear(); // padding must be finite: masked weights are 0, and 0 * NaN is not
                for (int r = 0; r < rows.Count; r++)
                {
                    var (source, row, sourceWidth, length) = rows[r];
                    ReadOnlySpan<float> from = source[i].GetTensorDataAsSpan<float>();
                    for (int h = 0; h < m.heads; h++)
                    {
                        int src = ((row * m.heads + h) * sourceWidth + sourceWidth - length) * block;
                        int dst = ((r * m.heads + h) * newWidth + newWidth - length) * block;
                        from.Slice(src, length * block).CopyTo(target.Slice(dst, length * block));
                    }
                }
                fresh[i] = value;
            }
            pastOwner?.Dispose();
            pastOwner = new Owned(fresh);
            pasts = fresh;
            width = newWidth;
        }

        public void Dispose()
        {
            pastOwner?.Dispose();
            runOptions.Dispose();
        }
    }

    sealed class Owned(OrtValue[] values) : IDisposable
    {
        public void Dispose()
        {
            foreach (var v in values) v.Dispose();
        }
    }
}
