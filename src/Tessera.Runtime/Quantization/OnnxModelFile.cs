using System.Runtime.InteropServices;
using Google.Protobuf;
using Tessera.Formats;
using Tessera.Formats.Onnx;

namespace Tessera.Runtime.Quantization;

/// <summary>Reads an ONNX model with its external data pulled inline, and reads/writes the tensors the quantizer needs.</summary>
internal static class OnnxModelFile
{
    /// <summary>Loads <paramref name="path"/>; tensors stored in external files are read into <c>raw_data</c>.</summary>
    /// <returns>The model and the bytes read from disk (model file plus external data files).</returns>
    public static (ModelProto Model, long BytesOnDisk) Load(string path)
    {
        var info = new FileInfo(path);
        if (!info.Exists) throw new FileNotFoundException($"ONNX model not found: {path}", path);
        if (info.Length > int.MaxValue)
            throw new TesseraFormatException(path, $"the file is {info.Length} bytes; a protobuf message is at most 2 GB (large models keep tensors in external data files)");
        byte[] bytes0 = File.ReadAllBytes(path);
        if (IsOrtFormat(bytes0))
            throw new TesseraFormatException(path, "this is an ORT-format model (.ort, ONNX Runtime's flatbuffer), not ONNX; pass the .onnx model it was converted from");
        ModelProto model;
        try { model = ModelProto.Parser.ParseFrom(bytes0); }
        catch (InvalidProtocolBufferException e) { throw new TesseraFormatException(path, $"not an ONNX model ({e.Message})", e); }
        if (model.Graph is null) throw new TesseraFormatException(path, "the model has no graph");

        long bytes = info.Length;
        string dir = Path.GetDirectoryName(Path.GetFullPath(path))!;
        foreach (var tensor in AllInitializers(model.Graph))
            if (tensor.DataLocation == TensorProto.Types.DataLocation.External)
                bytes += LoadExternal(tensor, dir, path);
        return (model, bytes);
    }

    /// <summary>Whether <paramref name="bytes"/> start like an ORT-format file (flatbuffer with file identifier <c>ORTM</c>).</summary>
    public static bool IsOrtFormat(ReadOnlySpan<byte> bytes) => bytes.Length >= 8 && bytes[4..8].SequenceEqual("ORTM"u8);

    /// <summary>Initializers of <paramref name="graph"/> and of every subgraph (If/Loop/Scan bodies).</summary>
    public static IEnumerable<TensorProto> AllInitializers(GraphProto graph)
    {
        foreach (var t in graph.Initializer) yield return t;
        foreach (var g in Subgraphs(graph))
            foreach (var t in AllInitializers(g)) yield return t;
    }

    /// <summary>Every node of <paramref name="graph"/> and of its subgraphs, recursively.</summary>
    public static IEnumerable<NodeProto> AllNodes(GraphProto graph)
    {
        foreach (var n in graph.Node)
        {
            yield return n;
            foreach (var a in n.Attribute)
            {
                if (a.G is not null) foreach (var m in AllNodes(a.G)) yield return m;
                foreach (var g in a.Graphs) foreach (var m in AllNodes(g)) yield return m;
            }
        }
    }

    static IEnumerable<GraphProto> Subgraphs(GraphProto graph)
    {
        foreach (var n in graph.Node)
            foreach (var a in n.Attribute)
            {
                if (a.G is not null) yield return a.G;
                foreach (var g in a.Graphs) yield return g;
            }
    }

    /// <summary>Bytes of tensor data held by the initializers of the graph and its subgraphs.</summary>
    public static long InitializerBytes(GraphProto graph)
    {
        long total = 0;
        foreach (var t in AllInitializers(graph))
        {
            total += t.RawData.Length + 4L * t.FloatData.Count + 4L * t.Int32Data.Count + 8L * t.Int64Data.Count
                     + 8L * t.DoubleData.Count + 8L * t.Uint64Data.Count;
            foreach (var s in t.StringData) total += s.Length;
        }
        return total;
    }

    /// <summary>Number of elements the dims of <paramref name="tensor"/> describe; -1 when a dim is negative or the product overflows.</summary>
    public static long ElementCount(TensorProto tensor)
    {
        long n = 1;
        foreach (long d in tensor.Dims)
        {
            if (d < 0) return -1;
            if (d != 0 && n > long.MaxValue / d) return -1;
            n *= d;
        }
        return n;
    }

    /// <summary>Checks that a float32 tensor's dims describe exactly the values it stores (before anything is sized from the dims).</summary>
    /// <exception cref="TesseraFormatException">The dims are negative, overflow, or disagree with raw_data / float_data; the message names the initializer.</exception>
    public static void CheckFloatSize(TensorProto tensor, string path)
    {
        long count = ElementCount(tensor);
        long stored = tensor.RawData.IsEmpty ? tensor.FloatData.Count : tensor.RawData.Length / 4;
        string dims = $"[{string.Join(", ", tensor.Dims)}]";
        if (count < 0)
            throw new TesseraFormatException(path, $"initializer '{tensor.Name}' has dims {dims}, which are negative or overflow a 64-bit element count");
        if (count != stored || (!tensor.RawData.IsEmpty && tensor.RawData.Length % 4 != 0))
            throw new TesseraFormatException(path, $"initializer '{tensor.Name}' has dims {dims} ({count} values) but stores {(tensor.RawData.IsEmpty ? $"{tensor.FloatData.Count} float_data values" : $"{tensor.RawData.Length} bytes of raw_data")}");
    }

    /// <summary>The values of a float32 tensor, from <c>raw_data</c> or <c>float_data</c>, checked against its dims.</summary>
    public static float[] ReadFloats(TensorProto tensor, string path)
    {
        if (tensor.DataType != (int)TensorProto.Types.DataType.Float)
            throw new TesseraFormatException(path, $"initializer '{tensor.Name}' is not float32");
        CheckFloatSize(tensor, path);
        long count = ElementCount(tensor);
        float[] values;
        if (!tensor.RawData.IsEmpty)
        {
            if (tensor.RawData.Length != count * 4)
                throw new TesseraFormatException(path, $"initializer '{tensor.Name}' has {tensor.RawData.Length} bytes of raw_data; dims [{string.Join(", ", tensor.Dims)}] need {count * 4}");
            values = new float[count];
            tensor.RawData.Span.CopyTo(MemoryMarshal.AsBytes(values.AsSpan()));
            if (!BitConverter.IsLittleEndian)
                for (int i = 0; i < values.Length; i++)
                    values[i] = BitConverter.Int32BitsToSingle(System.Buffers.Binary.BinaryPrimitives.ReverseEndianness(BitConverter.SingleToInt32Bits(values[i])));
        }
        else
        {
            if (tensor.FloatData.Count != count)
                throw new TesseraFormatException(path, $"initializer '{tensor.Name}' has {tensor.FloatData.Count} float_data values; dims [{string.Join(", ", tensor.Dims)}] need {count}");
            values = [.. tensor.FloatData];
        }
        return values;
    }

    /// <summary>A float32 initializer with the given dims, stored as little-endian <c>raw_data</c>.</summary>
    public static TensorProto FloatTensor(string name, ReadOnlySpan<float> values, params long[] dims)
    {
        var t = new TensorProto { Name = name, DataType = (int)TensorProto.Types.DataType.Float };
        t.Dims.Add(dims);
        t.RawData = ByteString.CopyFrom(MemoryMarshal.AsBytes(values));
        return t;
    }

    /// <summary>An int8 initializer with the given dims.</summary>
    public static TensorProto Int8Tensor(string name, ReadOnlySpan<sbyte> values, params long[] dims)
    {
        var t = new TensorProto { Name = name, DataType = (int)TensorProto.Types.DataType.Int8 };
        t.Dims.Add(dims);
        t.RawData = ByteString.CopyFrom(MemoryMarshal.AsBytes(values));
        return t;
    }

    static long LoadExternal(TensorProto tensor, string dir, string path)
    {
        string? location = null;
        long offset = 0, length = -1;
        foreach (var kv in tensor.ExternalData)
        {
            switch (kv.Key)
            {
                case "location": location = kv.Value; break;
                case "offset": offset = ParseLong(kv.Value, "offset"); break;
                case "length": length = ParseLong(kv.Value, "length"); break;
            }
        }
        if (string.IsNullOrEmpty(location))
            throw new TesseraFormatException(path, $"initializer '{tensor.Name}' is external but names no location");
        // The ONNX spec: locations are relative to the model's folder and stay inside it.
        string file = Path.GetFullPath(Path.Combine(dir, location));
        if (Path.IsPathRooted(location) || !file.StartsWith(dir + Path.DirectorySeparatorChar, StringComparison.Ordinal))
            throw new TesseraFormatException(path, $"initializer '{tensor.Name}': external data location '{location}' is outside the model's folder");
        var info = new FileInfo(file);
        if (!info.Exists) throw new TesseraFormatException(path, $"initializer '{tensor.Name}': external data file '{location}' not found");
        if (length < 0) length = info.Length - offset;
        if (offset < 0 || length < 0 || offset + length > info.Length || length > int.MaxValue)
            throw new TesseraFormatException(path, $"initializer '{tensor.Name}': offset {offset} + length {length} is outside '{location}' ({info.Length} bytes)");
        var buffer = new byte[length];
        using (var stream = new FileStream(file, FileMode.Open, FileAccess.Read, FileShare.Read))
        {
            stream.Position = offset;
            stream.ReadExactly(buffer);
        }
        tensor.RawData = ByteString.CopyFrom(buffer);
        tensor.ExternalData.Clear();
        tensor.DataLocation = TensorProto.Types.DataLocation.Default;
        return length;

        long ParseLong(string s, string field) => long.TryParse(s, out long v)
            ? v
            : throw new TesseraFormatException(path, $"initializer '{tensor.Name}': external data {field} '{s}' is not an integer");
    }
}
