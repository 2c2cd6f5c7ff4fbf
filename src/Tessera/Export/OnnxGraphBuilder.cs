using System.Globalization;
using System.Runtime.InteropServices;
using Google.Protobuf;
using Tessera.Formats.Onnx;
using static TorchSharp.torch;
using DataType = Tessera.Formats.Onnx.TensorProto.Types.DataType;

namespace Tessera.Export;

/// <summary>
/// Builds an ONNX graph from named values: graph inputs and outputs with element types and (possibly symbolic)
/// shapes, initializers (weights stored as little-endian <c>raw_data</c>), constants and nodes. Every value name is
/// unique in the graph; methods that create a value take a preferred name and return the name actually used.
/// <see cref="Build"/> checks that every node input is defined and returns a <see cref="ModelProto"/> with
/// producer <c>tessera</c>, IR version 8 and the default-domain opset given to the constructor (17 by default).
/// </summary>
public sealed class OnnxGraphBuilder
{
    /// <summary>The ONNX IR version written by <see cref="Build"/> (8: the one that goes with opset 17).</summary>
    public const long IrVersion = 8;

    /// <summary>The default opset: 17, the first with <c>LayerNormalization</c>.</summary>
    public const int DefaultOpset = 17;

    readonly HashSet<string> names = new(StringComparer.Ordinal);
    readonly Dictionary<string, int> nodeCounters = new(StringComparer.Ordinal);
    readonly GraphProto graph;

    /// <summary>Starts an empty graph.</summary>
    /// <param name="graphName">The graph's name.</param>
    /// <param name="opset">The default-domain opset version the graph targets (at least 13).</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="opset"/> is below 13.</exception>
    public OnnxGraphBuilder(string graphName = "tessera", int opset = DefaultOpset)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(opset, 13);
        Opset = opset;
        graph = new GraphProto { Name = graphName };
    }

    /// <summary>The default-domain opset version.</summary>
    public int Opset { get; }

    /// <summary>Prefix of the names given to new nodes (<c>{prefix}/{OpType}_{n}</c>); the exporter sets it to the current module path.</summary>
    public string NodeNamePrefix { get; set; } = "";

    /// <summary>The graph under construction (for inspection; prefer the Add methods for changes).</summary>
    public GraphProto Graph => graph;

    /// <summary>True when <paramref name="name"/> is already a value (input, initializer or node output) of the graph.</summary>
    public bool Contains(string name) => names.Contains(name);

    /// <summary>True when <paramref name="name"/> is a graph input.</summary>
    public bool IsInput(string name) => graph.Input.Any(i => i.Name == name);

    /// <summary>True when <paramref name="name"/> is an initializer.</summary>
    public bool IsInitializer(string name) => graph.Initializer.Any(i => i.Name == name);

    /// <summary>Reserves and returns a value name not used yet: <paramref name="preferred"/>, or it with a numeric suffix.</summary>
    public string UniqueName(string preferred)
    {
        if (string.IsNullOrEmpty(preferred)) preferred = "value";
        string name = preferred;
        for (int i = 1; !names.Add(name); i++) name = preferred + "_" + i.ToString(CultureInfo.InvariantCulture);
        return name;
    }

    /// <summary>Declares a graph input.</summary>
    /// <param name="name">The input's name; must not be taken.</param>
    /// <param name="elementType">The element type.</param>
    /// <param name="shape">The dimensions: numbers, or names for dimensions bound at run time (e.g. <c>"batch"</c>).</param>
    /// <returns>The name.</returns>
    /// <exception cref="ArgumentException">The name is already used.</exception>
    public string AddInput(string name, DataType elementType, params OnnxDimension[] shape)
    {
        if (!names.Add(name)) throw new ArgumentException($"value name '{name}' is already used", nameof(name));
        graph.Input.Add(ValueInfo(name, elementType, shape));
        return name;
    }

    /// <summary>Declares an existing value (a node output or an input) as a graph output.</summary>
    /// <param name="name">A value of the graph.</param>
    /// <param name="elementType">The element type.</param>
    /// <param name="shape">The dimensions: numbers or symbolic names.</param>
    /// <exception cref="ArgumentException">No value has that name.</exception>
    public void AddOutput(string name, DataType elementType, params OnnxDimension[] shape)
    {
        if (!names.Contains(name)) throw new ArgumentException($"graph output '{name}' is not a value of the graph", nameof(name));
        graph.Output.Add(ValueInfo(name, elementType, shape));
    }

    /// <summary>
    /// Adds a tensor as an initializer (a weight), copied from a TorchSharp tensor of any supported element type
    /// (float32, float64, float16, bfloat16, int64, int32, int8, uint8, bool) as little-endian <c>raw_data</c>.
    /// </summary>
    /// <param name="preferredName">The preferred value name (the parameter's path, e.g. <c>fc1.weight</c>).</param>
    /// <param name="value">The tensor; copied, so it may be disposed afterwards.</param>
    /// <returns>The value name used.</returns>
    /// <exception cref="NotSupportedException">The element type has no ONNX equivalent here.</exception>
    public string AddInitializer(string preferredName, Tensor value)
    {
        var proto = ToTensorProto(value);
        proto.Name = UniqueName(preferredName);
        graph.Initializer.Add(proto);
        return proto.Name;
    }

    /// <summary>Adds float32 values with shape <paramref name="dims"/> as an initializer.</summary>
    public string AddInitializer(string preferredName, ReadOnlySpan<float> values, params long[] dims) =>
        AddRaw(preferredName, DataType.Float, MemoryMarshal.AsBytes(values), dims);

    /// <summary>Adds int64 values with shape <paramref name="dims"/> as an initializer.</summary>
    public string AddInitializer(string preferredName, ReadOnlySpan<long> values, params long[] dims) =>
        AddRaw(preferredName, DataType.Int64, MemoryMarshal.AsBytes(values), dims);

    /// <summary>Adds a <c>Constant</c> node holding a copy of <paramref name="value"/> and returns its output name.</summary>
    public string AddConstant(string preferredName, Tensor value)
    {
        string output = UniqueName(preferredName);
        var node = NewNode("Constant", [], [output]);
        node.Attribute.Add(new AttributeProto { Name = "value", Type = AttributeProto.Types.AttributeType.Tensor, T = ToTensorProto(value) });
        graph.Node.Add(node);
        return output;
    }

    /// <summary>Adds a node whose outputs are the given names (reserved here; they must be new).</summary>
    /// <param name="opType">The operator, e.g. <c>Conv</c>.</param>
    /// <param name="inputs">Input value names; an empty string marks an omitted optional input.</param>
    /// <param name="outputs">Output value names.</param>
    /// <param name="attributes">Attributes, made with the <c>Attr</c> helpers.</param>
    /// <returns>The node.</returns>
    /// <exception cref="ArgumentException">An output name is already used.</exception>
    /// <remarks>An empty output name leaves that optional output out, as ONNX allows.</remarks>
    public NodeProto AddNode(string opType, IEnumerable<string> inputs, IEnumerable<string> outputs, params AttributeProto[] attributes)
    {
        var outs = outputs.ToArray();
        foreach (var o in outs)
            if (o.Length > 0 && !names.Add(o)) throw new ArgumentException($"value name '{o}' is already used", nameof(outputs));
        var node = NewNode(opType, inputs, outs);
        node.Attribute.AddRange(attributes);
        graph.Node.Add(node);
        return node;
    }

    /// <summary>Adds a single-output node and returns the (fresh, unique) name of its output.</summary>
    /// <param name="opType">The operator.</param>
    /// <param name="inputs">Input value names.</param>
    /// <param name="outputName">Preferred output name; defaults to a name derived from the operator.</param>
    /// <param name="attributes">Attributes.</param>
    public string Apply(string opType, IEnumerable<string> inputs, string? outputName = null, params AttributeProto[] attributes)
    {
        string output = UniqueName(outputName ?? opType.ToLowerInvariant());
        var node = NewNode(opType, inputs, [output]);
        node.Attribute.AddRange(attributes);
        graph.Node.Add(node);
        return output;
    }

    /// <summary>Renames a value produced by a node (in the producer and every consumer), e.g. to give the final value the graph output's name.</summary>
    /// <exception cref="ArgumentException">The old name is not a node output, or the new one is taken.</exception>
    public void Rename(string oldName, string newName)
    {
        if (!graph.Node.Any(n => n.Output.Contains(oldName)))
            throw new ArgumentException($"'{oldName}' is not produced by a node", nameof(oldName));
        if (!names.Add(newName)) throw new ArgumentException($"value name '{newName}' is already used", nameof(newName));
        names.Remove(oldName);
        foreach (var node in graph.Node)
        {
            for (int i = 0; i < node.Input.Count; i++) if (node.Input[i] == oldName) node.Input[i] = newName;
            for (int i = 0; i < node.Output.Count; i++) if (node.Output[i] == oldName) node.Output[i] = newName;
        }
    }

    /// <summary>An INT attribute.</summary>
    public static AttributeProto Attr(string name, long value) =>
        new() { Name = name, Type = AttributeProto.Types.AttributeType.Int, I = value };

    /// <summary>A FLOAT attribute.</summary>
    public static AttributeProto Attr(string name, float value) =>
        new() { Name = name, Type = AttributeProto.Types.AttributeType.Float, F = value };

    /// <summary>A STRING attribute (UTF-8).</summary>
    public static AttributeProto Attr(string name, string value) =>
        new() { Name = name, Type = AttributeProto.Types.AttributeType.String, S = ByteString.CopyFromUtf8(value) };

    /// <summary>An INTS attribute.</summary>
    public static AttributeProto Attr(string name, IEnumerable<long> values)
    {
        var a = new AttributeProto { Name = name, Type = AttributeProto.Types.AttributeType.Ints };
        a.Ints.AddRange(values);
        return a;
    }

    /// <summary>
    /// Finishes the model: checks that every node input is a graph input, an initializer or an earlier node's
    /// output, and that the graph has outputs, then wraps the graph in a <see cref="ModelProto"/>.
    /// </summary>
    /// <param name="metadata">Entries for <c>metadata_props</c>, written in key order.</param>
    /// <param name="docString">The model's doc string.</param>
    /// <exception cref="OnnxExportException">A node reads an undefined value, or there are no outputs.</exception>
    public ModelProto Build(IReadOnlyDictionary<string, string>? metadata = null, string? docString = null)
    {
        var defined = new HashSet<string>(graph.Input.Select(i => i.Name).Concat(graph.Initializer.Select(i => i.Name)), StringComparer.Ordinal);
        foreach (var node in graph.Node)
        {
            foreach (var input in node.Input)
                if (input.Length > 0 && !defined.Contains(input))
                    throw new OnnxExportException($"node {node.Name} ({node.OpType}) reads '{input}', which no earlier node, input or initializer defines");
            foreach (var output in node.Output) defined.Add(output);
        }
        if (graph.Output.Count == 0) throw new OnnxExportException("the graph has no outputs");
        foreach (var output in graph.Output)
            if (!defined.Contains(output.Name)) throw new OnnxExportException($"graph output '{output.Name}' is never produced");

        var model = new ModelProto
        {
            IrVersion = IrVersion,
            ProducerName = "tessera",
            ProducerVersion = TesseraInfo.Version,
            Graph = graph,
            DocString = docString ?? "",
        };
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = Opset });
        foreach (string domain in graph.Node.Select(n => n.Domain).Where(d => d.Length > 0 && d != "ai.onnx").Distinct().Order(StringComparer.Ordinal))
            model.OpsetImport.Add(new OperatorSetIdProto { Domain = domain, Version = 1 });
        if (metadata is not null)
            foreach (var (key, value) in metadata.OrderBy(kv => kv.Key, StringComparer.Ordinal))
                model.MetadataProps.Add(new StringStringEntryProto { Key = key, Value = value });
        return model;
    }

    /// <summary>The ONNX element type of a TorchSharp scalar type.</summary>
    /// <exception cref="NotSupportedException">The type has no ONNX equivalent here.</exception>
    public static DataType ToOnnxType(ScalarType type) => type switch
    {
        ScalarType.Float32 => DataType.Float,
        ScalarType.Float64 => DataType.Double,
        ScalarType.Float16 => DataType.Float16,
        ScalarType.BFloat16 => DataType.Bfloat16,
        ScalarType.Int64 => DataType.Int64,
        ScalarType.Int32 => DataType.Int32,
        ScalarType.Int16 => DataType.Int16,
        ScalarType.Int8 => DataType.Int8,
        ScalarType.Byte => DataType.Uint8,
        ScalarType.Bool => DataType.Bool,
        _ => throw new NotSupportedException($"tensors of type {type} cannot be stored in ONNX by this exporter"),
    };

    static TensorProto ToTensorProto(Tensor value)
    {
        if (!BitConverter.IsLittleEndian) throw new PlatformNotSupportedException("ONNX raw_data is little-endian; this machine is not");
        var type = ToOnnxType(value.dtype);
        using var cpu = value.detach().cpu().contiguous();
        var proto = new TensorProto { DataType = (int)type, RawData = ByteString.CopyFrom(cpu.bytes) };
        proto.Dims.AddRange(value.shape);
        return proto;
    }

    string AddRaw(string preferredName, DataType type, ReadOnlySpan<byte> bytes, long[] dims)
    {
        var proto = new TensorProto { Name = UniqueName(preferredName), DataType = (int)type, RawData = ByteString.CopyFrom(bytes) };
        proto.Dims.AddRange(dims);
        graph.Initializer.Add(proto);
        return proto.Name;
    }

    NodeProto NewNode(string opType, IEnumerable<string> inputs, IEnumerable<string> outputs)
    {
        var node = new NodeProto { OpType = opType };
        node.Input.AddRange(inputs);
        node.Output.AddRange(outputs);
        int n = nodeCounters.TryGetValue(opType, out var c) ? c : 0;
        nodeCounters[opType] = n + 1;
        string local = opType + "_" + n.ToString(CultureInfo.InvariantCulture);
        node.Name = NodeNamePrefix.Length == 0 ? local : NodeNamePrefix + "/" + local;
        return node;
    }

    static ValueInfoProto ValueInfo(string name, DataType elementType, OnnxDimension[] shape)
    {
        var tensorShape = new TensorShapeProto();
        foreach (var d in shape)
            tensorShape.Dim.Add(d.IsSymbolic ? new TensorShapeProto.Types.Dimension { DimParam = d.Symbol }
                : new TensorShapeProto.Types.Dimension { DimValue = d.Value ?? throw new ArgumentException("a dimension needs a value or a symbol") });
        return new ValueInfoProto
        {
            Name = name,
            Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)elementType, Shape = tensorShape } },
        };
    }
}
