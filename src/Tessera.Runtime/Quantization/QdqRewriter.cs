using System.Runtime.InteropServices;
using Google.Protobuf;
using Tessera.Formats.Onnx;

namespace Tessera.Runtime.Quantization;

/// <summary>
/// The graph rewrite of static QDQ quantization, in two steps. <see cref="Plan"/> picks the Conv/Gemm/MatMul nodes
/// to quantize, folds a Relu that follows one of them (or a residual Add) into the output quantization (uint8 with
/// zero point 0 clips at 0 exactly as Relu does), and lists the activation tensors that need a range.
/// <see cref="Apply"/> then gives weights int8 per-channel symmetric DequantizeLinear inputs (bias int32 at
/// scale x_scale·w_scale, zero point left out), and each activation a QuantizeLinear → DequantizeLinear pair, uint8 per tensor: the
/// patterns ONNX Runtime fuses into QLinearConv, QGemm, QLinearAdd and uint8 MaxPool.
/// </summary>
internal sealed class QdqRewriter
{
    // Ops whose output holds a subset (or a rearrangement) of their input's values: the output reuses the input's
    // quantization parameters, so ONNX Runtime can drop the Q/DQ around them and run them on uint8.
    static readonly HashSet<string> PassThrough = new(StringComparer.Ordinal) { "MaxPool", "Flatten", "Reshape", "Transpose", "Squeeze", "Unsqueeze" };

    // Ops whose output needs a range of its own (an average is not a subset of its input's values), which ONNX
    // Runtime runs on uint8 (QLinearGlobalAveragePool, QLinearAveragePool) when both sides carry a Q/DQ pair. Left in
    // float, a pool at the end of a net costs a DequantizeLinear before it and a QuantizeLinear after it (and the
    // layout transposes around them) on every call.
    static readonly HashSet<string> OwnRange = new(StringComparer.Ordinal) { "GlobalAveragePool", "AveragePool" };

    readonly ModelProto model;
    readonly string path;
    readonly StaticQuantizationOptions options;
    readonly Dictionary<string, TensorProto> initializers;
    readonly HashSet<string> graphOutputs;
    readonly List<NodeProto> compute = [];
    readonly List<string> activations = [];
    readonly Dictionary<string, string> tiedTo = new(StringComparer.Ordinal);

    public QdqRewriter(ModelProto model, StaticQuantizationOptions options, string path)
    {
        this.model = model;
        this.options = options;
        this.path = path;
        initializers = model.Graph.Initializer.ToDictionary(t => t.Name, StringComparer.Ordinal);
        graphOutputs = model.Graph.Output.Select(o => o.Name).ToHashSet(StringComparer.Ordinal);
    }

    /// <summary>The Conv/Gemm/MatMul nodes quantized, in graph order.</summary>
    public IReadOnlyList<NodeProto> Compute => compute;

    /// <summary>Conv/Gemm/MatMul nodes left in float, with the reason.</summary>
    public List<string> Skipped { get; } = [];

    /// <summary>Activation tensors that get a Q/DQ pair, in graph order (tensor names of the float graph).</summary>
    public IReadOnlyList<string> Activations => activations;

    /// <summary>Activations whose parameters are copied from another's (pass-through ops), output → input.</summary>
    public IReadOnlyDictionary<string, string> TiedTo => tiedTo;

    public static string NameOf(NodeProto node) => node.Name.Length > 0 ? node.Name : $"{node.OpType}:{node.Output.FirstOrDefault()}";

    bool Excluded(NodeProto node) => options.Exclude.Contains(node.Name) || options.Exclude.Contains(node.OpType);

    public void Plan()
    {
        foreach (var node in model.Graph.Node)
        {
            if (node.OpType is not ("Conv" or "Gemm" or "MatMul")) continue;
            string? why = Excluded(node) ? "excluded" : WhyNot(node);
            if (why is null) compute.Add(node);
            else Skipped.Add($"{NameOf(node)}: {why}");
        }
        if (compute.Count == 0)
            throw new QuantizationException(path, Skipped.Count == 0
                ? "static quantization needs Conv, Gemm or MatMul nodes; the model has none, no file written"
                : "no Conv, Gemm or MatMul node can be quantized, no file written: " + string.Join("; ", Skipped));

        var quantizedAdds = new List<NodeProto>();
        var active = new HashSet<string>(StringComparer.Ordinal);
        var computeSet = compute.ToHashSet();
        foreach (var node in model.Graph.Node.ToList())
        {
            if (computeSet.Contains(node))
            {
                FoldRelu(node);
                Add(node.Input[0]);
                if (!graphOutputs.Contains(node.Output[0])) Add(node.Output[0]);
            }
            else if (node.OpType == "Add" && !Excluded(node) && node.Input.Count == 2 && active.Contains(node.Input[0]) && active.Contains(node.Input[1]))
            {
                FoldRelu(node);
                if (!graphOutputs.Contains(node.Output[0])) Add(node.Output[0]);
            }
            else if (OwnRange.Contains(node.OpType) && !Excluded(node) && active.Contains(node.Input[0]) && !graphOutputs.Contains(node.Output[0]))
            {
                Add(node.Output[0]);
            }
            else if (PassThrough.Contains(node.OpType) && node.Input.Count > 0 && active.Contains(node.Input[0]) && !graphOutputs.Contains(node.Output[0]))
            {
                Add(node.Output[0]);
                tiedTo[node.Output[0]] = node.Input[0];
            }
        }

        void Add(string tensor)
        {
            if (active.Add(tensor)) activations.Add(tensor);
        }
    }

    string? WhyNot(NodeProto node)
    {
        if (node.Input.Count < 2 || !initializers.TryGetValue(node.Input[1], out var w)) return "the weight is not an initializer";
        if (w.DataType != (int)TensorProto.Types.DataType.Float) return "the weight is not float32";
        if (initializers.ContainsKey(node.Input[0])) return "the activation input is a constant";
        switch (node.OpType)
        {
            case "Conv" when w.Dims.Count < 3:
                return $"weight rank {w.Dims.Count}";
            case "MatMul" when w.Dims.Count != 2:
                return $"weight rank {w.Dims.Count} (2 needed)";
            case "Gemm":
                if (w.Dims.Count != 2) return $"weight rank {w.Dims.Count}";
                if (Attribute(node, "transA") != 0) return "transA=1";
                if (FloatAttribute(node, "alpha") != 1f || FloatAttribute(node, "beta") != 1f) return "alpha or beta is not 1";
                break;
        }
        return null;
    }

    // Conv -> Relu becomes Conv whose output is the Relu's tensor: the uint8 quantization of that tensor (range
    // starting at 0, zero point 0) clips negatives exactly as the Relu did.
    void FoldRelu(NodeProto node)
    {
        string output = node.Output[0];
        if (graphOutputs.Contains(output)) return;
        var consumers = model.Graph.Node.Where(n => n.Input.Contains(output)).ToList();
        if (consumers is not [{ OpType: "Relu" } relu] || Excluded(relu) || graphOutputs.Contains(relu.Output[0])) return;
        node.Output[0] = relu.Output[0];
        model.Graph.Node.Remove(relu);
    }

    /// <summary>Rewrites the graph with the activation parameters (uint8 scale and zero point per tensor).</summary>
    public void Apply(IReadOnlyDictionary<string, (float Scale, byte ZeroPoint)> parameters)
    {
        var graph = model.Graph;
        var front = new List<NodeProto>();
        var added = new List<TensorProto>();
        var dequantizedWeights = new Dictionary<string, string>(StringComparer.Ordinal);
        // A float weight or bias that only the rewritten inputs read gives its name to the DequantizeLinear output
        // that replaces it (and goes): no second long name per tensor, which on a small conv net is a few % of the file.
        var readers = graph.Node.SelectMany(n => n.Input).GroupBy(i => i, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.Count(), StringComparer.Ordinal);
        var reserved = graph.Input.Select(i => i.Name).Concat(graph.Output.Select(o => o.Name)).ToHashSet(StringComparer.Ordinal);
        var computeWeightReads = compute.GroupBy(n => n.Input[1], StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.Count(), StringComparer.Ordinal);
        var replaced = new HashSet<string>(StringComparer.Ordinal);
        foreach (var node in compute)
        {
            var w = initializers[node.Input[1]];
            int axis = node.OpType switch { "Conv" => 0, "MatMul" => 1, _ => Attribute(node, "transB") != 0 ? 0 : 1 };
            float[] values = OnnxModelFile.ReadFloats(w, path);
            var (q, scales) = QuantizePerChannel(values, [.. w.Dims], axis);
            if (!dequantizedWeights.TryGetValue(w.Name, out string? wDq))
            {
                bool onlyRewritten = readers[w.Name] == computeWeightReads[w.Name] && !reserved.Contains(w.Name);
                wDq = onlyRewritten ? w.Name : w.Name + "_DequantizeLinear_Output";
                if (onlyRewritten) replaced.Add(w.Name);
                added.Add(OnnxModelFile.Int8Tensor(w.Name + "_quantized", q, [.. w.Dims]));
                added.Add(OnnxModelFile.FloatTensor(w.Name + "_scale", scales, scales.Length));
                added.Add(OnnxModelFile.Int8Tensor(w.Name + "_zero_point", new sbyte[scales.Length], scales.Length));
                front.Add(Dequantize(w.Name + "_quantized", w.Name + "_scale", w.Name + "_zero_point", wDq, axis));
                dequantizedWeights[w.Name] = wDq;
            }
            node.Input[1] = wDq;

            // Bias: int32 at scale x_scale * w_scale, the form QLinearConv/QGemm take.
            if (node.OpType != "MatMul" && node.Input.Count > 2 && initializers.TryGetValue(node.Input[2], out var b)
                && b.DataType == (int)TensorProto.Types.DataType.Float && b.Dims.Count == 1 && b.Dims[0] == scales.Length
                && parameters.TryGetValue(node.Input[0], out var x))
            {
                float[] bias = OnnxModelFile.ReadFloats(b, path);
                var bq = new int[bias.Length];
                var bScales = new float[bias.Length];
                for (int i = 0; i < bias.Length; i++)
                {
                    bScales[i] = x.Scale * scales[i];
                    bq[i] = (int)Math.Clamp(Math.Round(bias[i] / bScales[i]), int.MinValue, int.MaxValue);
                }
                // A bias read by one node takes over its name; a shared one gets a copy per node (each has its own x_scale).
                bool own = readers[b.Name] == 1 && !reserved.Contains(b.Name);
                string name = own ? b.Name : $"{b.Name}_{NameOf(node)}";
                string output = own ? b.Name : name + "_DequantizeLinear_Output";
                if (own) replaced.Add(b.Name);
                added.Add(Int32Tensor(name + "_quantized", bq, bias.Length));
                added.Add(OnnxModelFile.FloatTensor(name + "_scale", bScales, bias.Length));
                // No zero point: DequantizeLinear's default is 0, the only value int32 allows; ONNX Runtime fuses it alike.
                front.Add(Dequantize(name + "_quantized", name + "_scale", null, output, 0));
                node.Input[2] = output;
            }
        }

        // Q/DQ pairs on activations; every consumer reads the dequantized tensor.
        var pairs = new Dictionary<string, NodeProto[]>(StringComparer.Ordinal);
        foreach (string tensor in activations)
        {
            var (scale, zeroPoint) = parameters[tensor];
            added.Add(OnnxModelFile.FloatTensor(tensor + "_scale", [scale]));
            added.Add(new TensorProto { Name = tensor + "_zero_point", DataType = (int)TensorProto.Types.DataType.Uint8, RawData = ByteString.CopyFrom(zeroPoint) });
            string quantized = tensor + "_QuantizeLinear_Output", dequantized = tensor + "_DequantizeLinear_Output";
            foreach (var node in graph.Node)
                for (int i = 0; i < node.Input.Count; i++)
                    if (node.Input[i] == tensor) node.Input[i] = dequantized;
            pairs[tensor] = [
                new NodeProto { OpType = "QuantizeLinear", Name = tensor + "_QuantizeLinear", Input = { tensor, tensor + "_scale", tensor + "_zero_point" }, Output = { quantized } },
                new NodeProto { OpType = "DequantizeLinear", Name = tensor + "_DequantizeLinear", Input = { quantized, tensor + "_scale", tensor + "_zero_point" }, Output = { dequantized } },
            ];
        }

        var ordered = new List<NodeProto>(front);
        foreach (var input in graph.Input)
            if (pairs.TryGetValue(input.Name, out var p)) ordered.AddRange(p);
        foreach (var node in graph.Node)
        {
            ordered.Add(node);
            foreach (string output in node.Output)
                if (pairs.TryGetValue(output, out var p)) ordered.AddRange(p);
        }
        graph.Node.Clear();
        graph.Node.Add(ordered);
        graph.Initializer.Add(added);

        // Float weights no node reads any more go; shapes of renamed tensors are inferred again by whoever loads it.
        var used = graph.Node.SelectMany(n => n.Input).ToHashSet(StringComparer.Ordinal);
        var unused = graph.Initializer.Where(t => !used.Contains(t.Name) || (replaced.Contains(t.Name) && t.DataType == (int)TensorProto.Types.DataType.Float)).ToList();
        foreach (var t in unused) graph.Initializer.Remove(t);
        graph.ValueInfo.Clear();
    }

    /// <summary>Symmetric int8 per channel along <paramref name="axis"/>: scale = max|w| / 127, zero point 0.</summary>
    internal static (sbyte[] Values, float[] Scales) QuantizePerChannel(float[] w, long[] dims, int axis)
    {
        long channels = dims[axis];
        long inner = 1;
        for (int d = axis + 1; d < dims.Length; d++) inner *= dims[d];
        var scales = new float[channels];
        for (long i = 0; i < w.Length; i++)
        {
            long c = i / inner % channels;
            scales[c] = Math.Max(scales[c], Math.Abs(w[i]));
        }
        for (int c = 0; c < channels; c++) scales[c] = scales[c] > 0 ? scales[c] / 127f : 1f;
        var q = new sbyte[w.Length];
        for (long i = 0; i < w.Length; i++)
            q[i] = (sbyte)Math.Clamp(Math.Round(w[i] / scales[i / inner % channels]), -127, 127);
        return (q, scales);
    }

    static NodeProto Dequantize(string q, string scale, string? zeroPoint, string output, int axis)
    {
        var node = new NodeProto
        {
            OpType = "DequantizeLinear", Name = q.Replace("_quantized", "_DequantizeLinear", StringComparison.Ordinal),
            Input = { q, scale }, Output = { output },
            Attribute = { new AttributeProto { Name = "axis", Type = AttributeProto.Types.AttributeType.Int, I = axis } },
        };
        if (zeroPoint is not null) node.Input.Add(zeroPoint);
        return node;
    }

    static TensorProto Int32Tensor(string name, int[] values, params long[] dims)
    {
        var t = new TensorProto { Name = name, DataType = (int)TensorProto.Types.DataType.Int32 };
        t.Dims.Add(dims);
        t.RawData = ByteString.CopyFrom(MemoryMarshal.AsBytes(values.AsSpan()));
        return t;
    }

    static long Attribute(NodeProto node, string name) => node.Attribute.FirstOrDefault(a => a.Name == name)?.I ?? 0;

    static float FloatAttribute(NodeProto node, string name) => node.Attribute.FirstOrDefault(a => a.Name == name)?.F ?? 1f;
}
