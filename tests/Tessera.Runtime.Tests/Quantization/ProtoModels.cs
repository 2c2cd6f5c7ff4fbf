using Google.Protobuf;
using Tessera.Formats.Onnx;

namespace Tessera.Runtime.Tests.Quantization;

/// <summary>Small models written with the protobuf classes, for tests that must run without python3-onnx.</summary>
internal static class ProtoModels
{
    /// <summary>
    /// x [batch, k] feeds two MatMuls: "left" with weight w and "right" with the same w (a shared activation and a shared
    /// weight), whose outputs are added: y = x w + x w.
    /// </summary>
    public static void SharedMatMuls(string path, int k, int n, int seed = 3)
    {
        var graph = new GraphProto { Name = "shared" };
        graph.Input.Add(Value("x", "batch", k));
        graph.Output.Add(Value("y", "batch", n));
        graph.Initializer.Add(FloatTensor("w", Random(k * n, seed), k, n));
        graph.Node.Add(Node("MatMul", "left", ["x", "w"], ["a"]));
        graph.Node.Add(Node("MatMul", "right", ["x", "w"], ["b"]));
        graph.Node.Add(Node("Add", "sum", ["a", "b"], ["y"]));
        Save(graph, path);
    }

    /// <summary>y = relu(x + b): no MatMul or Gemm.</summary>
    public static void NoMatMul(string path)
    {
        var graph = new GraphProto { Name = "no_matmul" };
        graph.Input.Add(Value("x", "batch", 4));
        graph.Output.Add(Value("y", "batch", 4));
        graph.Initializer.Add(FloatTensor("b", Random(4, 1), 4));
        graph.Node.Add(Node("Add", "add", ["x", "b"], ["s"]));
        graph.Node.Add(Node("Relu", "relu", ["s"], ["y"]));
        Save(graph, path);
    }

    /// <summary>y = x w where w's dims are <paramref name="dims"/> but it stores only <paramref name="rawBytes"/> bytes (a hostile file).</summary>
    public static void LyingMatMul(string path, long[] dims, int rawBytes)
    {
        var graph = new GraphProto { Name = "lying" };
        graph.Input.Add(Value("x", "batch", 4));
        graph.Output.Add(Value("y", "batch", 4));
        var w = new TensorProto { Name = "w", DataType = (int)TensorProto.Types.DataType.Float, RawData = ByteString.CopyFrom(new byte[rawBytes]) };
        w.Dims.Add(dims);
        graph.Initializer.Add(w);
        graph.Node.Add(Node("MatMul", "mm", ["x", "w"], ["y"]));
        Save(graph, path);
    }

    public static float[] Random(int count, int seed)
    {
        var rng = new Random(seed);
        var v = new float[count];
        for (int i = 0; i < count; i++) v[i] = (float)(rng.NextDouble() * 2 - 1);
        return v;
    }

    static void Save(GraphProto graph, string path)
    {
        var model = new ModelProto { IrVersion = 8, ProducerName = "tessera-tests", Graph = graph };
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = 17 });
        File.WriteAllBytes(path, model.ToByteArray());
    }

    static NodeProto Node(string op, string name, string[] inputs, string[] outputs)
    {
        var node = new NodeProto { OpType = op, Name = name };
        node.Input.Add(inputs);
        node.Output.Add(outputs);
        return node;
    }

    static TensorProto FloatTensor(string name, float[] values, params long[] dims)
    {
        var t = new TensorProto { Name = name, DataType = (int)TensorProto.Types.DataType.Float };
        t.Dims.Add(dims);
        t.FloatData.Add(values);
        return t;
    }

    static ValueInfoProto Value(string name, string batch, int features)
    {
        var shape = new TensorShapeProto();
        shape.Dim.Add(new TensorShapeProto.Types.Dimension { DimParam = batch });
        shape.Dim.Add(new TensorShapeProto.Types.Dimension { DimValue = features });
        return new ValueInfoProto
        {
            Name = name,
            Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)TensorProto.Types.DataType.Float, Shape = shape } },
        };
    }
}
