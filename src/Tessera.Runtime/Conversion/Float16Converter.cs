using System.Runtime.InteropServices;
using Google.Protobuf;
using Tessera.Formats;
using Tessera.Formats.Onnx;
using Tessera.Runtime.Quantization;

namespace Tessera.Runtime.Conversion;

/// <summary>
/// Converts a float32 ONNX model to float16: initializers and activations become float16 (values clamped to its
/// range), except around the ops of a block list, which stay float32 behind Cast nodes. Halves the file; speeds up
/// GPUs with float16 units. On CPU, ONNX Runtime runs most float16 ops by casting back to float32, so it is
/// usually slower there (measure with <c>tessera bench</c>).
/// </summary>
public static class Float16Converter
{
    /// <summary>
    /// Ops kept in float32 by default: ops whose extra float inputs must stay float32 (Resize scales, Range),
    /// sorting/selection ops where float16 ties change results (TopK, NonMaxSuppression, CumSum), random ops, and
    /// the classic ML ops that have no float16 kernels.
    /// </summary>
    public static readonly IReadOnlySet<string> DefaultBlockList = new HashSet<string>(StringComparer.Ordinal)
    {
        "Resize", "Upsample", "Range", "TopK", "NonMaxSuppression", "RoiAlign", "CumSum", "RandomUniformLike",
        "RandomNormalLike", "RandomUniform", "RandomNormal", "Multinomial", "ArrayFeatureExtractor", "Binarizer",
        "CastMap", "CategoryMapper", "DictVectorizer", "FeatureVectorizer", "Imputer", "LabelEncoder",
        "LinearClassifier", "LinearRegressor", "Normalizer", "OneHotEncoder", "SVMClassifier", "SVMRegressor", "Scaler",
        "TreeEnsembleClassifier", "TreeEnsembleRegressor", "ZipMap",
    };

    const int Float = (int)TensorProto.Types.DataType.Float, Float16 = (int)TensorProto.Types.DataType.Float16;

    // Ops whose first output is not of their first input's type (the rest follow the first input).
    static readonly Dictionary<string, int> FixedOutputType = new(StringComparer.Ordinal)
    {
        ["Shape"] = (int)TensorProto.Types.DataType.Int64, ["Size"] = (int)TensorProto.Types.DataType.Int64,
        ["ArgMax"] = (int)TensorProto.Types.DataType.Int64, ["ArgMin"] = (int)TensorProto.Types.DataType.Int64,
        ["NonZero"] = (int)TensorProto.Types.DataType.Int64, ["Equal"] = (int)TensorProto.Types.DataType.Bool,
        ["Less"] = (int)TensorProto.Types.DataType.Bool, ["Greater"] = (int)TensorProto.Types.DataType.Bool,
        ["LessOrEqual"] = (int)TensorProto.Types.DataType.Bool, ["GreaterOrEqual"] = (int)TensorProto.Types.DataType.Bool,
        ["Not"] = (int)TensorProto.Types.DataType.Bool, ["And"] = (int)TensorProto.Types.DataType.Bool,
        ["Or"] = (int)TensorProto.Types.DataType.Bool, ["Xor"] = (int)TensorProto.Types.DataType.Bool,
        ["IsNaN"] = (int)TensorProto.Types.DataType.Bool, ["IsInf"] = (int)TensorProto.Types.DataType.Bool,
    };

    /// <summary>
    /// Writes the float16 version of the model at <paramref name="inputPath"/> to <paramref name="outputPath"/>
    /// atomically (nothing is written on error).
    /// </summary>
    /// <exception cref="FileNotFoundException">The input file does not exist.</exception>
    /// <exception cref="TesseraFormatException">The input is not an ONNX model (an .ort file, truncated, ...).</exception>
    /// <exception cref="QuantizationException">The model is quantized already, has subgraphs (If/Loop), or has no float32 tensor to convert.</exception>
    public static Float16ConversionReport Convert(string inputPath, string outputPath, Float16ConversionOptions? options = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(inputPath);
        ArgumentException.ThrowIfNullOrEmpty(outputPath);
        options ??= new Float16ConversionOptions();
        var (model, inputBytes) = OnnxModelFile.Load(inputPath);
        DynamicQuantizer.EnsureNotQuantized(model, inputPath);
        var graph = model.Graph;
        if (graph.Node.Any(n => n.Attribute.Any(a => a.G is not null || a.Graphs.Count > 0)))
            throw new QuantizationException(inputPath, "float16 conversion of models with subgraphs (If/Loop/Scan) is not supported");

        // 1. Element type of every tensor in the float32 graph, and which float ones become float16.
        var type = new Dictionary<string, int>(StringComparer.Ordinal);
        var initializers = graph.Initializer.ToDictionary(t => t.Name, StringComparer.Ordinal);
        foreach (var t in graph.Initializer) type[t.Name] = t.DataType;
        foreach (var i in graph.Input) if (i.Type?.TensorType is { } tt) type.TryAdd(i.Name, tt.ElemType);
        foreach (var node in graph.Node)
        {
            int outType = node.OpType switch
            {
                "Cast" => (int)Attr(node, "to")!.I,
                "Constant" => Attr(node, "value")?.T?.DataType ?? Float,
                "ConstantOfShape" => Attr(node, "value")?.T?.DataType ?? Float,
                _ when FixedOutputType.TryGetValue(node.OpType, out int fixedType) => fixedType,
                _ => node.Input.Count > 0 && type.TryGetValue(node.Input[0], out int t0) ? t0 : 0,
            };
            for (int i = 0; i < node.Output.Count; i++)
                type[node.Output[i]] = node.OpType == "TopK" && i == 1 ? (int)TensorProto.Types.DataType.Int64 : outType;
        }
        bool Blocked(NodeProto n) => options.BlockList.Contains(n.OpType);
        var blockedReaders = graph.Node.Where(Blocked).SelectMany(n => n.Input).ToHashSet(StringComparer.Ordinal);
        var graphInputs = graph.Input.Select(i => i.Name).Where(n => !initializers.ContainsKey(n)).ToHashSet(StringComparer.Ordinal);

        // Where each float tensor lives: float16 unless a blocked node makes it, or it is a kept-float32 graph input,
        // or an initializer only blocked nodes read.
        var half = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (name, t) in type)
        {
            if (t != Float) continue;
            if (graphInputs.Contains(name) && options.KeepIoTypes) continue;
            if (initializers.ContainsKey(name) && blockedReaders.Contains(name) && !graph.Node.Any(n => !Blocked(n) && n.Input.Contains(name))) continue;
            half.Add(name);
        }
        foreach (var node in graph.Node.Where(Blocked))
            foreach (string o in node.Output) half.Remove(o);

        // 2. Initializers and constants to float16, clamped.
        int converted = 0;
        long clamped = 0;
        foreach (var t in graph.Initializer.Where(t => half.Contains(t.Name)))
        {
            ToHalf(t, inputPath, ref clamped);
            converted++;
        }
        foreach (var node in graph.Node.Where(n => !Blocked(n)))
        {
            if (node.OpType is "Constant" or "ConstantOfShape" && Attr(node, "value")?.T is { DataType: Float } value)
            {
                ToHalf(value, inputPath, ref clamped);
                converted++;
            }
            if (node.OpType == "Cast" && Attr(node, "to") is { I: Float } to && half.Contains(node.Output[0])) to.I = Float16;
            foreach (var a in node.Attribute.Where(a => a.Name == "dtype" && a.I == Float)) a.I = Float16; // EyeLike and friends
        }

        // 3. Cast nodes where a reader wants the other float type than the tensor has.
        var casts = new Dictionary<(string, bool), string>();
        var ordered = new List<NodeProto>();
        int castCount = 0;
        string CastTo(string tensor, bool toHalf, List<NodeProto> into)
        {
            if (casts.TryGetValue((tensor, toHalf), out string? existing)) return existing;
            string output = $"{tensor}_cast_{(toHalf ? "fp16" : "fp32")}";
            into.Add(new NodeProto
            {
                OpType = "Cast", Name = output, Input = { tensor }, Output = { output },
                Attribute = { new AttributeProto { Name = "to", Type = AttributeProto.Types.AttributeType.Int, I = toHalf ? Float16 : Float } },
            });
            castCount++;
            return casts[(tensor, toHalf)] = output;
        }
        foreach (var node in graph.Node)
        {
            bool wantsHalf = !Blocked(node);
            for (int i = 0; i < node.Input.Count; i++)
            {
                string input = node.Input[i];
                if (input.Length == 0 || !type.TryGetValue(input, out int t) || t != Float) continue;
                if (node.OpType == "Cast") continue; // a Cast reads any type
                if (half.Contains(input) != wantsHalf) node.Input[i] = CastTo(input, wantsHalf, ordered);
            }
            ordered.Add(node);
        }

        // 4. Graph outputs: float32 kept behind a Cast (--keep-io-types), or declared float16.
        foreach (var output in graph.Output)
        {
            if (!half.Contains(output.Name)) continue;
            if (options.KeepIoTypes)
            {
                string inner = output.Name + "_fp16";
                foreach (var node in ordered)
                {
                    for (int i = 0; i < node.Output.Count; i++) if (node.Output[i] == output.Name) node.Output[i] = inner;
                    for (int i = 0; i < node.Input.Count; i++) if (node.Input[i] == output.Name) node.Input[i] = inner;
                }
                ordered.Add(new NodeProto
                {
                    OpType = "Cast", Name = output.Name + "_cast_fp32", Input = { inner }, Output = { output.Name },
                    Attribute = { new AttributeProto { Name = "to", Type = AttributeProto.Types.AttributeType.Int, I = Float } },
                });
                castCount++;
            }
            else if (output.Type?.TensorType is { } tt) tt.ElemType = Float16;
        }
        foreach (var input in graph.Input)
            if (half.Contains(input.Name) && input.Type?.TensorType is { } tt) tt.ElemType = Float16;
        graph.Node.Clear();
        graph.Node.Add(ordered);
        graph.ValueInfo.Clear(); // element types changed; loaders infer them again

        if (converted == 0 && half.Count == 0)
            throw new QuantizationException(inputPath, "the model has no float32 tensor to convert to float16, no file written");
        AtomicFile.Write(outputPath, model.WriteTo);
        var blocked = graph.Node.Where(Blocked).Select(n => (n.Name, n.OpType)).ToList();
        return new Float16ConversionReport(converted, clamped, blocked, castCount, inputBytes, new FileInfo(outputPath).Length);
    }

    static AttributeProto? Attr(NodeProto node, string name) => node.Attribute.FirstOrDefault(a => a.Name == name);

    /// <summary>Rewrites a float32 tensor as float16 <c>raw_data</c>, clamping to ±65504 and raising tiny non-zeros to ±2^-24.</summary>
    static void ToHalf(TensorProto tensor, string path, ref long clamped)
    {
        float[] values = OnnxModelFile.ReadFloats(tensor, path);
        var halves = new Half[values.Length];
        const float max = 65504f, tiny = 5.9604645e-8f;
        for (int i = 0; i < values.Length; i++)
        {
            float v = values[i];
            float a = Math.Abs(v);
            if (a > max && !float.IsInfinity(v)) { v = MathF.CopySign(max, v); clamped++; }
            else if (a > 0 && a < tiny) { v = MathF.CopySign(tiny, v); clamped++; }
            halves[i] = (Half)v;
        }
        tensor.FloatData.Clear();
        tensor.DataType = Float16;
        tensor.RawData = ByteString.CopyFrom(MemoryMarshal.AsBytes(halves.AsSpan()));
    }
}
