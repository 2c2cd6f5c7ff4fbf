using Tessera.Transformers;
using static Tessera.Export.OnnxGraphBuilder;
using static TorchSharp.torch;

namespace Tessera.Export;

/// <summary>
/// Helpers shared by the transformer graphs (decoders and encoders): weights read from the model's state dict by
/// Hugging Face name (each added once), constants, linear layers, head splitting and activations.
/// </summary>
internal class TransformerGraph
{
    readonly Dictionary<string, Tensor> weights;
    readonly Dictionary<string, string> added = new(StringComparer.Ordinal);

    public TransformerGraph(TorchSharp.torch.nn.Module model, int opset)
    {
        Builder = new OnnxGraphBuilder(model.GetType().Name, opset);
        weights = model.state_dict().ToDictionary(kv => kv.Key, kv => kv.Value, StringComparer.Ordinal);
    }

    public OnnxGraphBuilder Builder { get; }

    /// <summary>A weight from the state dict as a float32 initializer (optionally transposed to [in, out]); added once per name and layout.</summary>
    /// <exception cref="OnnxExportException">The model has no such parameter.</exception>
    public string Weight(string name, bool transpose = false)
    {
        string key = transpose ? name + "#T" : name;
        if (added.TryGetValue(key, out var existing)) return existing;
        if (!weights.TryGetValue(name, out var t)) throw new OnnxExportException($"the model has no parameter '{name}'", name);
        using var value = transpose ? t.detach().to_type(ScalarType.Float32).t().contiguous() : t.detach().to_type(ScalarType.Float32);
        string result = Builder.AddInitializer(transpose ? name + "_transposed" : name, value);
        added[key] = result;
        return result;
    }

    /// <summary>ReduceMean over the last axis, keeping it: axes as an attribute up to opset 17, as an input from opset 18.</summary>
    public string ReduceMeanLastAxis(string x, string name) =>
        Builder.Opset >= 18
            ? Builder.Apply("ReduceMean", [x, Longs(name + "/axes", false, -1)], name, Attr("keepdims", 1L))
            : Builder.Apply("ReduceMean", [x], name, Attr("axes", new long[] { -1 }), Attr("keepdims", 1L));

    /// <summary>The shape of the state-dict entry <paramref name="name"/>.</summary>
    /// <exception cref="OnnxExportException">The model has no such parameter.</exception>
    public long[] ShapeOf(string name) =>
        weights.TryGetValue(name, out var t) ? t.shape : throw new OnnxExportException($"the model has no parameter '{name}'", name);

    /// <summary>Whether the state dict has <paramref name="name"/>.</summary>
    public bool HasWeight(string name) => weights.ContainsKey(name);

    /// <summary>An int64 constant (a 1-D initializer, or a scalar when <paramref name="scalar"/>).</summary>
    public string Longs(string name, bool scalar, params long[] values) =>
        Builder.AddInitializer(name, values, scalar ? Array.Empty<long>() : new long[] { values.Length });

    /// <summary>A float32 scalar initializer.</summary>
    public string Float(string name, float value) => Builder.AddInitializer(name, [value]);

    /// <summary>x [.., in] @ weight [in, out] (+ bias).</summary>
    public string Linear(string x, string weightInOut, string? bias, string name)
    {
        string y = Builder.Apply("MatMul", [x, weightInOut], name + "/matmul");
        return bias is null ? y : Builder.Apply("Add", [y, bias], name + "/out");
    }

    /// <summary>[b, s, heads·d] → [b, heads, s, d].</summary>
    public string SplitHeads(string x, int heads, int headDim, string name)
    {
        string shape = Longs(name + "/shape", false, 0, 0, heads, headDim);
        string r = Builder.Apply("Reshape", [x, shape], name + "/reshape");
        return Builder.Apply("Transpose", [r], name + "/heads", Attr("perm", new long[] { 0, 2, 1, 3 }));
    }

    /// <summary>An activation from <see cref="Activations"/> written with ONNX operators.</summary>
    /// <exception cref="OnnxExportException">The activation has no ONNX form here.</exception>
    public string Activation(string activation, string x, string name) => activation switch
    {
        "gelu" => Gelu(x, name),
        "gelu_new" or "gelu_pytorch_tanh" or "gelu_fast" => GeluTanh(x, name),
        "relu" => Builder.Apply("Relu", [x], name + "/relu"),
        "silu" or "swish" => Builder.Apply("Mul", [x, Builder.Apply("Sigmoid", [x], name + "/sigmoid")], name + "/silu"),
        "tanh" => Builder.Apply("Tanh", [x], name + "/tanh"),
        _ => throw new OnnxExportException($"activation \"{activation}\" cannot be exported"),
    };

    string Gelu(string x, string name)
    {
        string scaled = Builder.Apply("Div", [x, Float(name + "/sqrt2", MathF.Sqrt(2f))], name + "/div");
        string erf = Builder.Apply("Erf", [scaled], name + "/erf");
        string onePlus = Builder.Apply("Add", [erf, Float(name + "/one", 1f)], name + "/one_plus");
        string half = Builder.Apply("Mul", [x, Float(name + "/half", 0.5f)], name + "/half_x");
        return Builder.Apply("Mul", [half, onePlus], name + "/gelu");
    }

    string GeluTanh(string x, string name)
    {
        string cube = Builder.Apply("Pow", [x, Float(name + "/three", 3f)], name + "/cube");
        string inner = Builder.Apply("Add", [x, Builder.Apply("Mul", [cube, Float(name + "/c", 0.044715f)], name + "/cube_c")], name + "/inner");
        inner = Builder.Apply("Mul", [inner, Float(name + "/k", (float)Math.Sqrt(2.0 / Math.PI))], name + "/inner_k");
        string t = Builder.Apply("Tanh", [inner], name + "/tanh");
        string onePlus = Builder.Apply("Add", [t, Float(name + "/one", 1f)], name + "/one_plus");
        string half = Builder.Apply("Mul", [x, Float(name + "/half", 0.5f)], name + "/half_x");
        return Builder.Apply("Mul", [half, onePlus], name + "/gelu");
    }

    /// <summary>softmax(q kᵀ · scale + mask) v for q/k/v [b, heads, s, d] and an additive mask; returns [b, s, heads·d].</summary>
    public string ScaledDotProductAttention(string q, string keys, string values, string? mask, int heads, int headDim, double scale, string name)
    {
        string kT = Builder.Apply("Transpose", [keys], name + "/keys_t", Attr("perm", new long[] { 0, 1, 3, 2 }));
        string scores = Builder.Apply("MatMul", [q, kT], name + "/scores");
        scores = Builder.Apply("Mul", [scores, Float(name + "/scale", (float)scale)], name + "/scaled");
        if (mask is not null) scores = Builder.Apply("Add", [scores, mask], name + "/masked");
        string probs = Builder.Apply("Softmax", [scores], name + "/probs", Attr("axis", -1L));
        string y = Builder.Apply("MatMul", [probs, values], name + "/context");
        y = Builder.Apply("Transpose", [y], name + "/context_t", Attr("perm", new long[] { 0, 2, 1, 3 }));
        return Builder.Apply("Reshape", [y, Longs(name + "/merge_shape", false, 0, 0, (long)heads * headDim)], name + "/merged");
    }

    /// <summary>LayerNormalization over the last axis with <c>{prefix}.weight</c> and <c>{prefix}.bias</c>.</summary>
    public string LayerNorm(string x, string prefix, double eps) =>
        Builder.Apply("LayerNormalization", [x, Weight(prefix + ".weight"), Weight(prefix + ".bias")], prefix, Attr("axis", -1L), Attr("epsilon", (float)eps));

    /// <summary>
    /// x [b, s, hidden] @ weightᵀ for a weight [out, hidden] stored once (an embedding tied to the output head): Gemm
    /// with transB on the flattened rows, so the file holds no transposed copy.
    /// </summary>
    public string TiedProjection(string x, string weight, long hidden, long outFeatures, string name)
    {
        string rows = Builder.Apply("Reshape", [x, Longs(name + "/rows_shape", false, -1, hidden)], name + "/rows");
        string y = Builder.Apply("Gemm", [rows, weight], name + "/gemm", Attr("transB", 1L));
        string leading = Builder.Apply("Slice", [Builder.Apply("Shape", [x], name + "/shape"), Longs(name + "/from", false, 0), Longs(name + "/to", false, 2)], name + "/leading");
        string shape = Builder.Apply("Concat", [leading, Longs(name + "/out", false, outFeatures)], name + "/out_shape", Attr("axis", 0L));
        return Builder.Apply("Reshape", [y, shape], name + "/out");
    }
}
