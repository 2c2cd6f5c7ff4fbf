using System.Buffers.Binary;
using System.IO.Compression;
using Tessera.Data;
using Tessera.Formats;
using Tessera.Tests.Shared;
using static TorchSharp.torch;

namespace Tessera.Tests.Data;

public class IdxReaderTests
{
    internal static byte[] Idx(byte type, int[] dims, byte[] data)
    {
        var bytes = new byte[4 + 4 * dims.Length + data.Length];
        bytes[2] = type;
        bytes[3] = (byte)dims.Length;
        for (int i = 0; i < dims.Length; i++)
            BinaryPrimitives.WriteInt32BigEndian(bytes.AsSpan(4 + 4 * i), dims[i]);
        data.CopyTo(bytes, 4 + 4 * dims.Length);
        return bytes;
    }

    internal static byte[] Gzip(byte[] raw)
    {
        using var ms = new MemoryStream();
        using (var gz = new GZipStream(ms, CompressionLevel.Fastest, leaveOpen: true)) gz.Write(raw);
        return ms.ToArray();
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Reads_ubyte_array_raw_and_gzip(bool gzip)
    {
        using var dir = new TempDirectory("tessera-data-");
        var data = Enumerable.Range(0, 2 * 3 * 4).Select(i => (byte)(i * 7)).ToArray();
        var raw = Idx(0x08, [2, 3, 4], data);
        string path = dir.File("a.idx");
        File.WriteAllBytes(path, gzip ? Gzip(raw) : raw);

        var array = IdxReader.Read(path);

        Assert.Equal(new[] { 2, 3, 4 }, array.Dims);
        Assert.Equal(IdxElementType.UInt8, array.Type);
        Assert.Equal(data, array.Data);
        using var t = array.ToTensor();
        Assert.Equal(ScalarType.Byte, t.dtype);
        Assert.Equal(new long[] { 2, 3, 4 }, t.shape);
        Assert.Equal(7 * 13, t[1, 0, 1].item<byte>()); // element 13 of the row-major data
    }

    [Fact]
    public void Tensor_does_not_alias_the_array_bytes()
    {
        var array = IdxReader.Read(new MemoryStream(Idx(0x08, [3], [1, 2, 3])), "a.idx");
        using var t = array.ToTensor();
        array.Data[0] = 200;
        Assert.Equal(new byte[] { 1, 2, 3 }, t.data<byte>().ToArray());
    }

    [Fact]
    public void Multi_byte_types_are_big_endian_and_convert_to_matching_tensors()
    {
        short[] shorts = [1, -2, 300, short.MinValue, short.MaxValue, 0];
        int[] ints = [1, -2, 70000, int.MinValue, int.MaxValue, 0];
        float[] floats = [1.5f, -2.25f, 3e-8f, float.MaxValue, -0f, 1e10f];
        double[] doubles = [1.5, -2.25, 3e-300, double.MaxValue, Math.PI, -1e10];
        sbyte[] sbytes = [1, -2, 127, -128, 0, 5];

        static byte[] Encode<T>(T[] values, int size, Action<Span<byte>, T> write)
        {
            var b = new byte[values.Length * size];
            for (int i = 0; i < values.Length; i++) write(b.AsSpan(i * size), values[i]);
            return b;
        }

        IdxArray Round(byte type, byte[] data) => IdxReader.Read(new MemoryStream(Idx(type, [2, 3], data)), "mem");

        using (var t = Round(0x09, Encode(sbytes, 1, (s, v) => s[0] = (byte)v)).ToTensor())
            Assert.Equal(sbytes, t.data<sbyte>().ToArray());
        using (var t = Round(0x0B, Encode(shorts, 2, BinaryPrimitives.WriteInt16BigEndian)).ToTensor())
            Assert.Equal(shorts, t.data<short>().ToArray());
        using (var t = Round(0x0C, Encode(ints, 4, BinaryPrimitives.WriteInt32BigEndian)).ToTensor())
            Assert.Equal(ints, t.data<int>().ToArray());
        using (var t = Round(0x0D, Encode(floats, 4, BinaryPrimitives.WriteSingleBigEndian)).ToTensor())
        {
            Assert.Equal(ScalarType.Float32, t.dtype);
            Assert.Equal(floats, t.data<float>().ToArray());
        }
        using (var t = Round(0x0E, Encode(doubles, 8, BinaryPrimitives.WriteDoubleBigEndian)).ToTensor())
            Assert.Equal(doubles, t.data<double>().ToArray());
    }

    [Fact]
    public void Reads_files_written_by_numpy()
    {
        Requires.Python("numpy");
        using var dir = new TempDirectory("tessera-data-");
        ReferencePython.Run("""
import sys, gzip, struct, numpy as np
d = sys.argv[1]
a = (np.arange(24, dtype=np.float32).reshape(2, 3, 4) * np.float32(-0.75) + np.float32(0.1))
with gzip.open(d + '/f.idx.gz', 'wb') as f:
    f.write(bytes([0, 0, 0x0D, 3]) + struct.pack('>3i', 2, 3, 4) + a.astype('>f4').tobytes())
b = np.array([[-32768, 5], [77, 32767]], dtype=np.int16)
with open(d + '/s.idx', 'wb') as f:
    f.write(bytes([0, 0, 0x0B, 2]) + struct.pack('>2i', 2, 2) + b.astype('>i2').tobytes())
""", dir.Path);

        using var f = IdxReader.Read(dir.File("f.idx.gz")).ToTensor();
        var expected = Enumerable.Range(0, 24).Select(i => i * -0.75f + 0.1f).ToArray();
        Assert.Equal(new long[] { 2, 3, 4 }, f.shape);
        Assert.Equal(expected, f.data<float>().ToArray());
        using var s = IdxReader.Read(dir.File("s.idx")).ToTensor();
        Assert.Equal(new short[] { -32768, 5, 77, 32767 }, s.data<short>().ToArray());
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Truncated_data_names_file_and_expected_and_actual_bytes(bool gzip)
    {
        using var dir = new TempDirectory("tessera-data-");
        var raw = Idx(0x0C, [5, 2], new byte[37]); // needs 40
        string path = dir.File("t.idx");
        File.WriteAllBytes(path, gzip ? Gzip(raw) : raw);

        var e = Assert.Throws<TesseraFormatException>(() => IdxReader.Read(path));
        Assert.Equal(path, e.FilePath);
        Assert.Contains(path, e.Message);
        Assert.Contains("truncated", e.Message);
        Assert.Contains("40 bytes", e.Message);
        Assert.Contains("found 37", e.Message);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Trailing_bytes_are_rejected(bool gzip)
    {
        using var dir = new TempDirectory("tessera-data-");
        var raw = Idx(0x08, [4], new byte[6]);
        string path = dir.File("t.idx");
        File.WriteAllBytes(path, gzip ? Gzip(raw) : raw);

        var e = Assert.Throws<TesseraFormatException>(() => IdxReader.Read(path));
        Assert.Contains(path, e.Message);
        Assert.Contains("trailing", e.Message);
    }

    [Fact]
    public void Truncated_header_is_rejected()
    {
        var e = Assert.Throws<TesseraFormatException>(() => IdxReader.Read(new MemoryStream(new byte[] { 0, 0, 8 }), "h.idx"));
        Assert.Contains("h.idx", e.Message);
        var dims = Idx(0x08, [3, 3], []).AsSpan(0, 10).ToArray(); // second dim cut
        e = Assert.Throws<TesseraFormatException>(() => IdxReader.Read(new MemoryStream(dims), "h.idx"));
        Assert.Contains("8 bytes of dimensions", e.Message);
    }

    [Theory]
    [InlineData(new byte[] { 1, 0, 8, 1, 0, 0, 0, 1, 0 }, "magic")]
    [InlineData(new byte[] { 0, 0, 0x0A, 1, 0, 0, 0, 1, 0 }, "element type 0x0a")]
    [InlineData(new byte[] { 0, 0, 8, 0 }, "0 dimensions")]
    [InlineData(new byte[] { 0, 0, 8, 5, 0, 0, 0, 1 }, "5 dimensions")]
    [InlineData(new byte[] { 0, 0, 8, 1, 0x80, 0, 0, 0 }, "2147483648")]
    public void Bad_headers_are_rejected_with_the_reason(byte[] bytes, string reason)
    {
        var e = Assert.Throws<TesseraFormatException>(() => IdxReader.Read(new MemoryStream(bytes), "bad.idx"));
        Assert.StartsWith("bad.idx: ", e.Message);
        Assert.Contains(reason, e.Message);
    }

    [Fact]
    public void Zero_sized_dimension_gives_empty_array()
    {
        var array = IdxReader.Read(new MemoryStream(Idx(0x08, [0, 28, 28], [])), "empty.idx");
        Assert.Equal(new[] { 0, 28, 28 }, array.Dims);
        Assert.Empty(array.Data);
        using var t = array.ToTensor();
        Assert.Equal(new long[] { 0, 28, 28 }, t.shape);
    }

    [Fact]
    public void Dimensions_beyond_two_gigabytes_are_rejected_before_allocating()
    {
        var hostile = Idx(0x0E, [60000, 60000, 60000, 60000], new byte[16]);
        long before = GC.GetAllocatedBytesForCurrentThread();
        var e = Assert.Throws<TesseraFormatException>(() => IdxReader.Read(new MemoryStream(hostile), "huge.idx"));
        Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < 1 << 20);
        Assert.Contains("more than", e.Message);

        // 60000^4 overflows 64 bits when multiplied naively; 65536^2 * 8 wraps to small values in 32 bits.
        Assert.Throws<TesseraFormatException>(() => IdxReader.Read(new MemoryStream(Idx(0x0E, [65536, 65536], [])), "wrap.idx"));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Header_claiming_a_gigabyte_over_a_tiny_body_does_not_allocate_it(bool gzip)
    {
        using var dir = new TempDirectory("tessera-data-");
        var raw = Idx(0x08, [1 << 15, 1 << 15], new byte[100]); // claims 1 GiB
        string path = dir.File("liar.idx");
        File.WriteAllBytes(path, gzip ? Gzip(raw) : raw);

        long before = GC.GetAllocatedBytesForCurrentThread();
        var e = Assert.Throws<TesseraFormatException>(() => IdxReader.Read(path));
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.True(allocated < 8 << 20, $"allocated {allocated} bytes");
        Assert.Contains("1073741824 bytes", e.Message);
        Assert.Contains("found 100", e.Message);
    }

    [Fact]
    public void Corrupt_gzip_is_a_format_error()
    {
        var gz = Gzip(Idx(0x08, [100], new byte[100]));
        for (int i = 12; i < gz.Length - 8; i++) gz[i] ^= 0x5A;
        var e = Assert.Throws<TesseraFormatException>(() => IdxReader.Read(new MemoryStream(gz), "c.gz"));
        Assert.Contains("c.gz", e.Message);
    }

    [Fact]
    public void Reads_installed_fashion_mnist_labels()
    {
        string path = Path.Combine(FashionMnist.DefaultRoot, "t10k-labels-idx1-ubyte.gz");
        Requires.FashionMnist();
        var labels = IdxReader.Read(path);
        Assert.Equal(new[] { 10000 }, labels.Dims);
        Assert.Equal(IdxElementType.UInt8, labels.Type);
        Assert.All(labels.Data, l => Assert.InRange(l, 0, 9));
    }
}
