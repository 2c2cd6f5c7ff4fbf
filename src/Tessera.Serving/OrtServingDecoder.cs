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

    /// <summary>Loads the graph (<c>model.onnx</c> or <c>onnx/model.onnx</c>) and <c>config.json</c> of an exported decoder folder.</summary>
    /// <param name="folder">The folder.</param>
    /// <param name="intraOpThreads">ONNX Runtime's threads per step; 0 for its default (one per core).</param>
    /// <param name="allowSpinning">Whether those threads spin between steps (ONNX Runtime's default); false lets them sleep.</param>
    /// <exception cref="OnnxModelException">The model is missing, rejected by ONNX Runtime, or lacks the inputs serving needs.</exception>
    public static OrtServingDecoder Load(string folder, int intraOpThreads = 0, bool allowSpinning = true)
    {
        string path = OnnxModel.FindModelFile(folder)
            ?? throw new OnnxModelException(Path.Combine(folder, OrtCausalLM.ModelFileName), $"file not found (nor {OnnxModel.GraphSubfolder}/{OrtCausalLM.ModelFileName})");
        var config = ModelConfigInfo.Load(folder);
        using var options = OrtConversions.ToSessionOptions(new OnnxSessionOptions { IntraOpThreads = intraOpThreads, AllowSpinning = allowSpinning });
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

    /// <summary>Where a row's keys and values live: row <c>Row</c> of <c>Source</c> (padded to <c>Width</c>), its last <c>Length</c> positions.</summary>
    readonly record struct RowRef(OrtValue[] Source, int Row, int Width, int Length);

    sealed class Batch(OrtServingDecoder m) : IDecoderBatch
    {
        readonly RunOptions runOptions = new();
        List<RowRef> rows = [];
        readonly List<IDisposable> owners = []; // what the rows' sources belong to: run results or values this batch built
        bool merged = true;                     // all rows are row i of one source (the last step's presents)
        readonly float[][][] pools = [new float[2 * m.layers][], new float[2 * m.layers][]]; // Merge's two sets of pasts
        int nextPool;

        public int Count => rows.Count;

        public void Add(IReadOnlyList<int> promptIds, Span<float> logits)
        {
            if (promptIds.Count == 0) throw new ArgumentException("a prompt has no tokens", nameof(promptIds));
            int n = promptIds.Count;
            long[] ids = [.. promptIds.Select(i => (long)i)];
            long[] mask = [.. Enumerable.Repeat(1L, n)];
            long[] positions = [.. Enumerable.Range(0, n).Select(i => (long)i)];
            using var empty = OrtValue.CreateAllocatedTensorValue(OrtAllocator.DefaultInstance, TensorElementType.Float, [1, m.heads, 0, m.headDim]);
            var results = Run(ids, mask, positions, 1, n, [.. Enumerable.Repeat(empty, 2 * m.layers)]);
            try
            {
                CopyLastLogits(results[0], 1, logits);
            }
            catch
            {
                results.Dispose();
                throw;
            }
            // Copied into the batch at the next step, together with every other change since the last one.
            owners.Add(results);
            rows.Add(new RowRef([.. Enumerable.Range(0, 2 * m.layers).Select(i => results[1 + i])], 0, n, n));
            merged = false;
        }

        public void Remove(int index)
        {
            ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(index, Count);
            rows.RemoveAt(index);
            merged = false;
            if (rows.Count == 0) Release();
        }

        public void Step(ReadOnlySpan<long> nextIds, Span<float> logits)
        {
            int count = Count;
            if (nextIds.Length != count) throw new ArgumentException($"expected {count} ids, got {nextIds.Length}", nameof(nextIds));
            if (!merged) Merge();
            int width = rows[0].Width, total = width + 1;
            var mask = new long[count * total];
            var positions = new long[count];
            for (int r = 0; r < count; r++)
            {
                mask.AsSpan(r * total + width - rows[r].Length, rows[r].Length + 1).Fill(1);
                positions[r] = rows[r].Length;
            }
            var results = Run(nextIds.ToArray(), mask, positions, count, 1, rows[0].Source);
            Release();
            owners.Add(results);
            OrtValue[] presents = [.. Enumerable.Range(0, 2 * m.layers).Select(i => results[1 + i])];
            rows = [.. rows.Select((r, i) => new RowRef(presents, i, total, r.Length + 1))];
            CopyLastLogits(results[0], count, logits);
        }

        IDisposableReadOnlyCollection<OrtValue> Run(long[] ids, long[] mask, long[] positions, int count, int n, OrtValue[] pastValues)
        {
            using var idsValue = OrtValue.CreateTensorValueFromMemory(ids, [count, n]);
            using var maskValue = OrtValue.CreateTensorValueFromMemory(mask, [count, mask.Length / count]);
            using var positionValue = OrtValue.CreateTensorValueFromMemory(positions, [count, n]);
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

        void CopyLastLogits(OrtValue value, int count, Span<float> logits)
        {
            long[] shape = value.GetTensorTypeAndShape().Shape;
            int vocab = m.VocabSize;
            if (shape.Length != 3 || shape[0] != count || shape[2] != vocab)
                throw new OnnxModelException(m.ModelPath, $"logits must be [{count}, sequence, {vocab}], got [{string.Join(", ", shape)}]");
            int seq = (int)shape[1];
            ReadOnlySpan<float> all = value.GetTensorDataAsSpan<float>();
            for (int r = 0; r < count; r++) all.Slice((r * seq + seq - 1) * vocab, vocab).CopyTo(logits.Slice(r * vocab, vocab));
        }

        /// <summary>
        /// Copies every row into pasts [rows, heads, longest, head_dim], right-aligned with zeroed padding, and frees the
        /// old sources. The pasts live in one of two sets of arrays the batch keeps and reuses (the other may still be a
        /// source): freshly allocated tensors of this size cost more in first-touch page faults than the whole copy.
        /// </summary>
        void Merge()
        {
            if (rows is [{ Row: 0 } only] && only.Width == only.Length && only.Source[0].GetTensorTypeAndShape().Shape[0] == 1)
            {
                merged = true; // a lone row already fills its own pasts exactly
                return;
            }
            int width = rows.Max(r => r.Length), block = m.headDim;
            int size = rows.Count * m.heads * width * block;
            float[][] pool = pools[nextPool];
            nextPool = 1 - nextPool;
            var fresh = new OrtValue[2 * m.layers];
            for (int i = 0; i < fresh.Length; i++)
            {
                if (pool[i] is null || pool[i].Length < size) pool[i] = GC.AllocateUninitializedArray<float>(size + size / 4, pinned: true);
                Span<float> target = pool[i].AsSpan(0, size);
                for (int r = 0; r < rows.Count; r++)
                {
                    var (source, row, sourceWidth, length) = rows[r];
                    ReadOnlySpan<float> from = source[i].GetTensorDataAsSpan<float>();
                    for (int h = 0; h < m.heads; h++)
                    {
                        int src = ((row * m.heads + h) * sourceWidth + sourceWidth - length) * block;
                        int dst = (r * m.heads + h) * width * block;
                        target.Slice(dst, (width - length) * block).Clear(); // padding must be finite: masked weights are 0, and 0 * NaN is not
                        from.Slice(src, length * block).CopyTo(target.Slice(dst + (width - length) * block, length * block));
                    }
                }
                fresh[i] = OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance, pool[i].AsMemory(0, size), [rows.Count, m.heads, width, m.headDim]);
            }
            Release();
            owners.Add(new Owned(fresh));
            rows = [.. rows.Select((r, i) => new RowRef(fresh, i, width, r.Length))];
            merged = true;
        }

        void Release()
        {
            foreach (var owner in owners) owner.Dispose();
            owners.Clear();
            if (rows.Count == 0) merged = true;
        }

        public void Dispose()
        {
            rows.Clear();
            Release();
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
