using Tessera.Formats.Onnx;

namespace Tessera.Runtime.Quantization;

/// <summary>
/// Rewrites the MatMul and Gemm nodes of a model's main graph whose weight (input B) is a float32 initializer into
/// dynamically quantized int8 nodes of one <see cref="QuantizedMatMulForm"/>. Nodes keep their position and their
/// output names, so the rest of the graph (and its value_info) is untouched.
/// </summary>
internal sealed class MatMulRewriter
{
    const string ContribDomain = "com.microsoft";
    const int FloatType = (int)TensorProto.Types.DataType.Float;

    readonly ModelProto _model;
    readonly GraphProto _graph;
    readonly DynamicQuantizationOptions _options;
    readonly string _path;
    readonly Dictionary<string, TensorProto> _initializers = new(StringComparer.Ordinal);
    readonly HashSet<string> _graphInputs = new(StringComparer.Ordinal);
    readonly HashSet<string> _names = new(StringComparer.Ordinal);
    readonly List<TensorProto> _newInitializers = [];
    readonly HashSet<string> _quantizedSources = new(StringComparer.Ordinal); // float initializers replaced by new ones
    // A weight shared by several nodes (or an activation feeding Q, K and V projections) is quantized once.
    readonly Dictionary<(string Name, bool Transposed, float Alpha), QuantizedWeight> _weights = [];
    readonly Dictionary<string, (string Q, string Scale, string ZeroPoint)> _activations = new(StringComparer.Ordinal);
    readonly Dictionary<string, string> _dequantizedActivations = new(StringComparer.Ordinal);
    readonly Dictionary<string, string> _dequantizedWeights = new(StringComparer.Ordinal);
    readonly Dictionary<string, List<NodeProto>> _consumers = new(StringComparer.Ordinal);
    readonly HashSet<NodeProto> _foldedAdds = new(ReferenceEqualityComparer.Instance);

    public MatMulRewriter(ModelProto model, DynamicQuantizationOptions options, string path)
    {
        _model = model;
        _graph = model.Graph;
        _options = options;
        _path = path;
        foreach (var t in _graph.Initializer) _initializers[t.Name] = t;
        foreach (var v in _graph.Input) _graphInputs.Add(v.Name);
        foreach (var t in OnnxModelFile.AllInitializers(_graph)) _names.Add(t.Name);
        foreach (var v in _graph.Input.Concat(_graph.Output).Concat(_graph.ValueInfo)) _names.Add(v.Name);
        foreach (var n in OnnxModelFile.AllNodes(_graph))
        {
            _names.Add(n.Name);
            foreach (var s in n.Input) _names.Add(s);
            foreach (var s in n.Output) _names.Add(s);
        }
    }

    public List<string> Quantized { get; } = [];

    public List<string> Skipped { get; } = [];

    /// <summary>Rewrites the graph in place; returns without changes when no node qualifies.</summary>
    public void Run()
    {
        var nodes = new List<NodeProto>(_graph.Node.Count);
        foreach (var node in _graph.Node)
            foreach (var input in node.Input)
                (_consumers.TryGetValue(input, out var list) ? list : _consumers[input] = []).Add(node);
        foreach (var node in _graph.Node)
        {
            if (_foldedAdds.Contains(node)) continue;
            bool standard = node.Domain is "" or "ai.onnx";
            if (!standard || node.OpType is not ("MatMul" or "Gemm")) { nodes.Add(node); continue; }
            string label = Label(node);
            string? reason = node.OpType == "MatMul" ? TryMatMul(node, nodes) : TryGemm(node, nodes);
            if (reason is null) Quantized.Add(label);
            else
            {
                Skipped.Add($"{label} ({node.OpType}): {reason}");
                nodes.Add(node);
            }
        }
        if (Quantized.Count == 0) return;

        _graph.Node.Clear();
        _graph.Node.Add(nodes);
        _graph.Initializer.Add(_newInitializers);
        RemoveUnusedFloatWeights();
        if (_options.Form is QuantizedMatMulForm.DynamicQuantizeMatMul or QuantizedMatMulForm.MatMulNBits && !_model.OpsetImport.Any(o => o.Domain == ContribDomain))
            _model.OpsetImport.Add(new OperatorSetIdProto { Domain = ContribDomain, Version = 1 });
    }

    static string Label(NodeProto node) => node.Name.Length > 0 ? node.Name : node.Output.FirstOrDefault() ?? node.OpType;

    bool Excluded(NodeProto node) =>
        _options.ExcludedNodes.Contains(node.Name) || node.Output.Any(_options.ExcludedNodes.Contains);

    /// <summary>Checks input B; returns the reason it cannot be quantized, or null.</summary>
    string? CheckWeight(NodeProto node, out TensorProto weight)
    {
        weight = null!;
        if (Excluded(node)) return "excluded by options";
        if (node.Input.Count < 2 || !_initializers.TryGetValue(node.Input[1], out var w)) return "weight (input B) is not an initializer";
        if (_graphInputs.Contains(w.Name)) return $"weight '{w.Name}' is also a graph input, so it can change at run time";
        if (w.DataType != FloatType) return $"weight '{w.Name}' is {(TensorProto.Types.DataType)w.DataType}, not float32";
        if (w.Dims.Count != 2) return $"weight '{w.Name}' has rank {w.Dims.Count}, not 2";
        if (w.Dims[0] <= 0 || w.Dims[1] <= 0) return $"weight '{w.Name}' is empty";
        OnnxModelFile.CheckFloatSize(w, _path); // a hostile file's dims must not size anything
        if (OnnxModelFile.ElementCount(w) < _options.MinimumWeightElements)
            return $"weight '{w.Name}' has fewer than {_options.MinimumWeightElements} elements";
        // A tied embedding (GPT-2's wte read by Gather and by the head): an int8 copy would sit beside the float table
        // the Gather still needs and make the file larger, so such a weight stays float.
        if (!_options.QuantizeSharedWeights && _consumers.TryGetValue(w.Name, out var readers) && readers.FirstOrDefault(r => r.OpType is not ("MatMul" or "Gemm") || r.Domain is not ("" or "ai.onnx")) is { } other)
            return $"weight '{w.Name}' is also read by {other.OpType} node '{Label(other)}' (a tied embedding); it stays float rather than being stored twice (QuantizeSharedWeights / --quantize-tied-head stores both)";
        weight = w;
        return null;
    }

    string? TryMatMul(NodeProto node, List<NodeProto> nodes)
    {
        if (CheckWeight(node, out var w) is { } reason) return reason;
        var qw = QuantizeWeight(w, transposed: false, alpha: 1f);
        if (FoldableBias(node.Output[0], w.Dims[1]) is var (add, bias))
        {
            // MatMul + Add(bias) as exporters write a linear layer on 3-D input: the fused forms take the bias as an input.
            _foldedAdds.Add(add);
            Emit(node.Input[0], qw, bias, addAfter: null, add.Output[0], Label(node), nodes);
            return null;
        }
        Emit(node.Input[0], qw, bias: null, addAfter: null, node.Output[0], Label(node), nodes);
        return null;
    }

    /// <summary>
    /// For the forms with a bias input: the Add that is the only reader of <paramref name="product"/> and adds a float
    /// [N] initializer to it, with that initializer's name; else null.
    /// </summary>
    (NodeProto Add, string Bias)? FoldableBias(string product, long n)
    {
        if (_options.Form is not (QuantizedMatMulForm.DynamicQuantizeMatMul or QuantizedMatMulForm.MatMulNBits)) return null;
        if (_graph.Output.Any(o => o.Name == product)) return null;
        if (!_consumers.TryGetValue(product, out var readers) || readers.Count != 1) return null;
        var add = readers[0];
        if (add.OpType != "Add" || add.Domain is not ("" or "ai.onnx") || add.Input.Count != 2 || Excluded(add)) return null;
        string other = add.Input[0] == product ? add.Input[1] : add.Input[0];
        if (other == product || !_initializers.TryGetValue(other, out var c) || _graphInputs.Contains(other)) return null;
        if (c.DataType != FloatType || c.Dims.Count != 1 || c.Dims[0] != n) return null;
        return (add, other);
    }

    string? TryGemm(NodeProto node, List<NodeProto> nodes)
    {
        if (CheckWeight(node, out var w) is { } reason) return reason;
        float alpha = 1f, beta = 1f;
        long transA = 0, transB = 0;
        foreach (var a in node.Attribute)
        {
            switch (a.Name)
            {
                case "alpha": alpha = a.F; break;
                case "beta": beta = a.F; break;
                case "transA": transA = a.I; break;
                case "transB": transB = a.I; break;
            }
        }
        if (transA != 0) return "transA=1 is not supported";
        bool transposed = transB != 0;
        long n = transposed ? w.Dims[0] : w.Dims[1];

        string? bias = null, addAfter = null;
        string c = node.Input.Count > 2 ? node.Input[2] : "";
        if (c.Length > 0 && beta != 0f)
        {
            if (_initializers.TryGetValue(c, out var ct) && ct.DataType == FloatType && !_graphInputs.Contains(c)
                && ct.Dims.Count == 1 && ct.Dims[0] == n && beta == 1f)
                bias = c; // already the [N] vector a bias input wants
            else if (_initializers.TryGetValue(c, out ct) && ct.DataType == FloatType && !_graphInputs.Contains(c)
                && BiasAsVector(ct, n) is { } vector)
            {
                for (int i = 0; i < vector.Length; i++) vector[i] *= beta;
                bias = NewName($"{c}_vector");
                _quantizedSources.Add(c);
                _newInitializers.Add(OnnxModelFile.FloatTensor(bias, vector, n));
            }
            else if (beta == 1f) addAfter = c;
            else return "C is not a constant [N] vector and beta != 1";
        }
        else if (c.Length > 0 && _initializers.ContainsKey(c)) _quantizedSources.Add(c); // beta = 0: C is dropped
        var qw = QuantizeWeight(w, transposed, alpha);
        Emit(node.Input[0], qw, bias, addAfter, node.Output[0], Label(node), nodes);
        return null;
    }

    /// <summary>C as an [N] vector when it broadcasts along rows only (dims [], [1], [N], [1, 1] or [1, N]); else null.</summary>
    float[]? BiasAsVector(TensorProto c, long n)
    {
        if (c.Dims.Count > 2 || (c.Dims.Count == 2 && c.Dims[0] != 1)) return null;
        long count = OnnxModelFile.ElementCount(c);
        if (count != n && count != 1) return null;
        float[] values = OnnxModelFile.ReadFloats(c, _path);
        if (count == n) return values;
        var vector = new float[n];
        Array.Fill(vector, values[0]);
        return vector;
    }

    QuantizedWeight QuantizeWeight(TensorProto w, bool transposed, float alpha)
    {
        if (_weights.TryGetValue((w.Name, transposed, alpha), out var cached)) return cached;
        int k = checked((int)(transposed ? w.Dims[1] : w.Dims[0]));
        int n = checked((int)(transposed ? w.Dims[0] : w.Dims[1]));
        float[] values = OnnxModelFile.ReadFloats(w, _path);
        if (alpha != 1f) for (int i = 0; i < values.Length; i++) values[i] *= alpha;
        if (_options.Form == QuantizedMatMulForm.MatMulNBits) return QuantizeBlockwise(w, values, k, n, transposed, alpha);
        sbyte[] q;
        float[] scales;
        try { (q, scales) = Int8WeightQuantizer.Quantize(values, k, n, transposed); }
        catch (ArgumentException e) { throw new QuantizationException(_path, $"weight '{w.Name}': {e.Message}", e); }

        var result = new QuantizedWeight(NewName($"{w.Name}_quantized"), NewName($"{w.Name}_scale"), n);
        _newInitializers.Add(OnnxModelFile.Int8Tensor(result.Values, q, k, n));
        _newInitializers.Add(OnnxModelFile.FloatTensor(result.Scale, scales, n));
        _weights[(w.Name, transposed, alpha)] = result;
        _quantizedSources.Add(w.Name);
        return result;
    }

    QuantizedWeight QuantizeBlockwise(TensorProto w, float[] values, int k, int n, bool transposed, float alpha)
    {
        int block = _options.BlockSize, blocks = (k + block - 1) / block;
        byte[] codes;
        float[] scales;
        try { (codes, scales) = BlockwiseInt8Quantizer.Quantize(values, k, n, transposed, block); }
        catch (ArgumentException e) { throw new QuantizationException(_path, $"weight '{w.Name}': {e.Message}", e); }
        var result = new QuantizedWeight(NewName($"{w.Name}_quantized"), NewName($"{w.Name}_scale"), n) { Rows = k };
        var b = new TensorProto { Name = result.Values, DataType = (int)TensorProto.Types.DataType.Uint8, RawData = Google.Protobuf.ByteString.CopyFrom(codes) };
        b.Dims.Add([n, blocks, block]);
        _newInitializers.Add(b);
        _newInitializers.Add(OnnxModelFile.FloatTensor(result.Scale, scales, n, blocks));
        _weights[(w.Name, transposed, alpha)] = result;
        _quantizedSources.Add(w.Name);
        return result;
    }

    void Emit(string a, QuantizedWeight w, string? bias, string? addAfter, string output, string label, List<NodeProto> nodes)
    {
        bool needsAdd = addAfter is not null || (bias is not null && _options.Form is not (QuantizedMatMulForm.DynamicQuantizeMatMul or QuantizedMatMulForm.MatMulNBits));
        string product = needsAdd ? NewName($"{label}_quant_out") : output;
        switch (_options.Form)
        {
            case QuantizedMatMulForm.DynamicQuantizeMatMul:
                // Inputs: A, B, b_scale, b_zero_point (omitted: 0), bias.
                var fused = Node("DynamicQuantizeMatMul", $"{label}_quant", bias is null ? [a, w.Values, w.Scale] : [a, w.Values, w.Scale, "", bias], [product]);
                fused.Domain = ContribDomain;
                nodes.Add(fused);
                break;
            case QuantizedMatMulForm.MatMulNBits:
            {
                // Inputs: A, B, scales, zero_points (omitted: 128), g_idx (omitted), bias.
                var nbits = Node("MatMulNBits", $"{label}_quant", bias is null ? [a, w.Values, w.Scale] : [a, w.Values, w.Scale, "", "", bias], [product]);
                nbits.Domain = ContribDomain;
                nbits.Attribute.Add(IntAttribute("K", w.Rows));
                nbits.Attribute.Add(IntAttribute("N", w.Columns));
                nbits.Attribute.Add(IntAttribute("bits", 8));
                nbits.Attribute.Add(IntAttribute("block_size", _options.BlockSize));
                nbits.Attribute.Add(IntAttribute("accuracy_level", 4));
                nodes.Add(nbits);
                break;
            }
            case QuantizedMatMulForm.MatMulInteger:
            {
                var (q, scale, zeroPoint) = QuantizeActivation(a, nodes);
                string integer = NewName($"{label}_quant_int32"), asFloat = NewName($"{label}_quant_float"), scales = NewName($"{label}_quant_scales");
                // B's zero point is omitted (0): the weights are symmetric int8; A is uint8 from DynamicQuantizeLinear.
                nodes.Add(Node("MatMulInteger", $"{label}_quant", [q, w.Values, zeroPoint], [integer]));
                var cast = Node("Cast", $"{label}_quant_cast", [integer], [asFloat]);
                cast.Attribute.Add(new AttributeProto { Name = "to", Type = AttributeProto.Types.AttributeType.Int, I = FloatType });
                nodes.Add(cast);
                nodes.Add(Node("Mul", $"{label}_quant_scales_mul", [scale, w.Scale], [scales]));
                nodes.Add(Node("Mul", $"{label}_quant_rescale", [asFloat, scales], [product]));
                break;
            }
            case QuantizedMatMulForm.Qdq:
            {
                string dqA = DequantizedActivation(a, nodes);
                if (!_dequantizedWeights.TryGetValue(w.Values, out string? dqW))
                {
                    dqW = NewName($"{w.Values}_dequantized");
                    var dq = Node("DequantizeLinear", $"{w.Values}_dequantize", [w.Values, w.Scale], [dqW]);
                    dq.Attribute.Add(new AttributeProto { Name = "axis", Type = AttributeProto.Types.AttributeType.Int, I = 1 });
                    nodes.Add(dq);
                    _dequantizedWeights[w.Values] = dqW;
                }
                nodes.Add(Node("MatMul", $"{label}_quant", [dqA, dqW], [product]));
                break;
            }
            default:
                throw new ArgumentOutOfRangeException(nameof(_options), _options.Form, "unknown quantized form");
        }
        if (!needsAdd) return;
        if (bias is not null && addAfter is not null) throw new InvalidOperationException("a Gemm has one bias");
        nodes.Add(Node("Add", $"{label}_quant_bias", [product, (bias ?? addAfter)!], [output]));
    }

    (string Q, string Scale, string ZeroPoint) QuantizeActivation(string a, List<NodeProto> nodes)
    {
        if (_activations.TryGetValue(a, out var cached)) return cached;
        var names = (NewName($"{a}_quantized"), NewName($"{a}_scale"), NewName($"{a}_zero_point"));
        nodes.Add(Node("DynamicQuantizeLinear", NewName($"{a}_dynamic_quantize"), [a], [names.Item1, names.Item2, names.Item3]));
        _activations[a] = names;
        return names;
    }

    string DequantizedActivation(string a, List<NodeProto> nodes)
    {
        if (_dequantizedActivations.TryGetValue(a, out string? cached)) return cached;
        var (q, scale, zeroPoint) = QuantizeActivation(a, nodes);
        string name = NewName($"{a}_dequantized");
        nodes.Add(Node("DequantizeLinear", NewName($"{a}_dequantize"), [q, scale, zeroPoint], [name]));
        _dequantizedActivations[a] = name;
        return name;
    }

    static AttributeProto IntAttribute(string name, long value) => new() { Name = name, Type = AttributeProto.Types.AttributeType.Int, I = value };

    NodeProto Node(string op, string name, string[] inputs, string[] outputs)
    {
        var node = new NodeProto { OpType = op, Name = NewName(name) };
        node.Input.Add(inputs);
        node.Output.Add(outputs);
        return node;
    }

    /// <summary>A value/node name not used anywhere in the model: <paramref name="stem"/>, or stem_2, stem_3, ...</summary>
    string NewName(string stem)
    {
        if (_names.Add(stem)) return stem;
        for (int i = 2; ; i++)
            if (_names.Add($"{stem}_{i}")) return $"{stem}_{i}";
    }

    /// <summary>Drops float weights (and Gemm biases folded into new vectors) that were replaced and that nothing (node, subgraph, graph output) reads any more.</summary>
    void RemoveUnusedFloatWeights()
    {
        var used = new HashSet<string>(StringComparer.Ordinal);
        foreach (var n in OnnxModelFile.AllNodes(_graph)) foreach (var s in n.Input) used.Add(s);
        foreach (var o in _graph.Output) used.Add(o.Name);
        for (int i = _graph.Initializer.Count - 1; i >= 0; i--)
        {
            string name = _graph.Initializer[i].Name;
            if (_quantizedSources.Contains(name) && !used.Contains(name)) _graph.Initializer.RemoveAt(i);
        }
    }

    sealed record QuantizedWeight(string Values, string Scale, long Columns)
    {
        /// <summary>K, the rows of the float weight (the MatMulNBits form needs it).</summary>
        public long Rows { get; init; }
    }
}
