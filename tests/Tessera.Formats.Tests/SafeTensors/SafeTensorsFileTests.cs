using System.Buffers.Binary;
using System.Text;
using System.Text.Json;
using Tessera.Formats.SafeTensors;

namespace Tessera.Formats.Tests.SafeTensors;

public sealed class SafeTensorsFileTests : IDisposable
{
    readonly SafeTensorsTestFiles _files = new();

    public void Dispose() => _files.Dispose();

    static byte[] RandomBytes(int n, int seed)
    {
        var bytes = new byte[n];
        new Random(seed).NextBytes(bytes);
        return bytes;
    }

    [Fact]
    public void Hand_built_file_following_the_spec_parses()
    {
        // Two F32 values 1.5 and -2 as "a" [2], then one I64 value 7 as "b" [] (a scalar), built byte by byte.
        var data = new byte[16];
        BinaryPrimitives.WriteSingleLittleEndian(data.AsSpan(0), 1.5f);
        BinaryPrimitives.WriteSingleLittleEndian(data.AsSpan(4), -2f);
        BinaryPrimitives.WriteInt64LittleEndian(data.AsSpan(8), 7);
        string header = """{"__metadata__":{"format":"pt"},"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"I64","shape":[],"data_offsets":[8,16]}}""";
        string path = _files.WriteRaw("hand.safetensors", header, data);

        using var file = SafeTensorsFile.Open(path);
        Assert.Equal("pt", file.Metadata["format"]);
        Assert.Equal(["a", "b"], file.Tensors.Select(t => t.Name));
        Assert.Equal(SafeTensorDType.F32, file["a"].DType);
        Assert.Equal([2L], file["a"].Shape);
        Assert.Equal(new SafeTensorInfo("b", SafeTensorDType.I64, [], 8, 8).ByteLength, file["b"].ByteLength);
        Assert.Empty(file["b"].Shape);
        Assert.Equal(1, file["b"].ElementCount);
        ReadOnlySpan<byte> a = file.GetSpan("a");
        Assert.Equal(1.5f, BinaryPrimitives.ReadSingleLittleEndian(a));
        Assert.Equal(-2f, BinaryPrimitives.ReadSingleLittleEndian(a[4..]));
        Assert.Equal(7L, BinaryPrimitives.ReadInt64LittleEndian(file.GetSpan("b")));
        Assert.Equal(2, SafeTensorsFile.ReadHeader(path).Count);
    }

    [Fact]
    public void Header_with_trailing_space_padding_and_no_metadata_parses()
    {
        string header = """{"x":{"dtype":"U8","shape":[3],"data_offsets":[0,3]}}""" + "       ";
        string path = _files.WriteRaw("pad.safetensors", header, [9, 8, 7]);
        using var file = SafeTensorsFile.Open(path);
        Assert.Empty(file.Metadata);
        Assert.Equal(new byte[] { 9, 8, 7 }, file.GetSpan("x").ToArray());
    }

    [Fact]
    public void Round_trip_of_every_dtype_keeps_bytes_shapes_and_order()
    {
        var dtypes = Enum.GetValues<SafeTensorDType>();
        var entries = new List<SafeTensorEntry>();
        var expected = new Dictionary<string, byte[]>();
        int seed = 1;
        foreach (SafeTensorDType dtype in dtypes)
        {
            long[] shape = [2, 3];
            byte[] bytes = RandomBytes(6 * dtype.ElementSize(), seed++);
            string name = $"t.{dtype.HeaderName().ToLowerInvariant()}";
            expected[name] = bytes;
            entries.Add(new SafeTensorEntry(name, dtype, shape, bytes));
        }
        string path = _files.PathFor("all.safetensors");
        SafeTensorsWriter.Write(path, entries);

        using var file = SafeTensorsFile.Open(path);
        Assert.Equal(entries.Select(e => e.Name), file.Tensors.Select(t => t.Name));
        foreach (SafeTensorEntry e in entries)
        {
            SafeTensorInfo info = file[e.Name];
            Assert.Equal(e.DType, info.DType);
            Assert.Equal(e.Shape, info.Shape);
            Assert.Equal(expected[e.Name], file.GetSpan(e.Name).ToArray());
            var copy = new byte[info.ByteLength];
            file.CopyTo(e.Name, copy);
            Assert.Equal(expected[e.Name], copy);
        }
    }

    [Fact]
    public void Header_names_and_element_sizes_match_the_spec()
    {
        var spec = new Dictionary<string, int>
        {
            ["BOOL"] = 1, ["U8"] = 1, ["I8"] = 1, ["I16"] = 2, ["U16"] = 2, ["F16"] = 2, ["BF16"] = 2,
            ["I32"] = 4, ["U32"] = 4, ["F32"] = 4, ["F64"] = 8, ["I64"] = 8, ["U64"] = 8,
        };
        foreach (var (name, size) in spec)
        {
            Assert.True(SafeTensorDTypes.TryParse(name, out SafeTensorDType dtype), name);
            Assert.Equal(name, dtype.HeaderName());
            Assert.Equal(size, dtype.ElementSize());
        }
        Assert.False(SafeTensorDTypes.TryParse("f32", out _)); // dtype strings are case-sensitive
    }

    [Fact]
    public void Writer_output_follows_the_spec_layout()
    {
        string path = _files.PathFor("layout.safetensors");
        SafeTensorsWriter.Write(path,
            [("w", SafeTensorDType.F32, [2L], new byte[8]), ("b", SafeTensorDType.U8, [3L], new byte[] { 1, 2, 3 })],
            new Dictionary<string, string> { ["format"] = "pt" });
        byte[] raw = File.ReadAllBytes(path);
        ulong n = BinaryPrimitives.ReadUInt64LittleEndian(raw);
        Assert.Equal(0UL, n % 8);
        Assert.Equal(raw.Length, 8 + (int)n + 11);
        string json = Encoding.UTF8.GetString(raw, 8, (int)n);
        Assert.EndsWith("}", json.TrimEnd(' '));
        Assert.InRange(json.Length - json.TrimEnd(' ').Length, 0, 7); // padding is spaces only, less than 8
        using var doc = JsonDocument.Parse(json);
        Assert.Equal(["__metadata__", "w", "b"], doc.RootElement.EnumerateObject().Select(p => p.Name));
        Assert.Equal("F32", doc.RootElement.GetProperty("w").GetProperty("dtype").GetString());
        Assert.Equal([8L, 11L], doc.RootElement.GetProperty("b").GetProperty("data_offsets").EnumerateArray().Select(e => e.GetInt64()));
        Assert.Equal(new byte[] { 1, 2, 3 }, raw[^3..]);
    }

    [Fact]
    public void Metadata_round_trips()
    {
        string path = _files.PathFor("meta.safetensors");
        var metadata = new Dictionary<string, string> { ["format"] = "pt", ["note"] = "ünïcødé \"quoted\"" };
        SafeTensorsWriter.Write(path, [new SafeTensorEntry("x", SafeTensorDType.F16, [1], new byte[2])], metadata);
        using var file = SafeTensorsFile.Open(path);
        Assert.Equal(metadata, file.Metadata);
    }

    [Fact]
    public void Empty_tensor_and_scalar_round_trip()
    {
        string path = _files.PathFor("edge.safetensors");
        SafeTensorsWriter.Write(path,
        [
            new SafeTensorEntry("empty", SafeTensorDType.F32, [0, 4], ReadOnlyMemory<byte>.Empty),
            new SafeTensorEntry("scalar", SafeTensorDType.F64, [], BitConverter.GetBytes(3.25)),
            new SafeTensorEntry("empty2", SafeTensorDType.I32, [3, 0], ReadOnlyMemory<byte>.Empty),
        ]);
        using var file = SafeTensorsFile.Open(path);
        Assert.Equal([0L, 4L], file["empty"].Shape);
        Assert.Equal(0, file["empty"].ElementCount);
        Assert.Equal(0, file.GetSpan("empty").Length);
        Assert.Empty(file["scalar"].Shape);
        Assert.Equal(3.25, BinaryPrimitives.ReadDoubleLittleEndian(file.GetSpan("scalar")));
        Assert.Equal(0, file["empty2"].ByteLength);
    }

    [Fact]
    public void File_with_no_tensors_round_trips()
    {
        string path = _files.PathFor("none.safetensors");
        SafeTensorsWriter.Write(path, Array.Empty<SafeTensorEntry>());
        using var file = SafeTensorsFile.Open(path);
        Assert.Empty(file.Tensors);
    }

    [Fact]
    public void Lookup_of_missing_tensor_names_file_and_tensor()
    {
        string path = _files.PathFor("one.safetensors");
        SafeTensorsWriter.Write(path, [new SafeTensorEntry("x", SafeTensorDType.U8, [1], new byte[1])]);
        using var file = SafeTensorsFile.Open(path);
        Assert.False(file.TryGet("y", out _));
        Assert.True(file.TryGet("x", out SafeTensorInfo? x));
        Assert.Equal("x", x!.Name);
        var e = Assert.Throws<KeyNotFoundException>(() => file["y"]);
        Assert.Equal($"{path}: no tensor named 'y'", e.Message);
    }

    [Fact]
    public void CopyTo_rejects_wrong_destination_size_and_GetSpan_after_dispose_throws()
    {
        string path = _files.PathFor("copy.safetensors");
        SafeTensorsWriter.Write(path, [new SafeTensorEntry("x", SafeTensorDType.I16, [2], new byte[4])]);
        var file = SafeTensorsFile.Open(path);
        var e = Assert.Throws<ArgumentException>(() => file.CopyTo("x", new byte[3]));
        Assert.StartsWith("tensor 'x' is 4 bytes; destination is 3", e.Message);
        file.Dispose();
        Assert.Throws<ObjectDisposedException>(() => { file.GetSpan("x"); });
        file.Dispose(); // idempotent
    }

    [Fact]
    public void Partial_span_reads_a_slice_of_a_tensor()
    {
        byte[] bytes = RandomBytes(64, 5);
        string path = _files.PathFor("slice.safetensors");
        SafeTensorsWriter.Write(path, [new SafeTensorEntry("x", SafeTensorDType.U8, [64], bytes)]);
        using var file = SafeTensorsFile.Open(path);
        Assert.Equal(bytes[10..30], file.GetSpan("x", 10, 20).ToArray());
        Assert.Throws<ArgumentOutOfRangeException>(() => { file.GetSpan("x", 60, 5); });
    }
}
