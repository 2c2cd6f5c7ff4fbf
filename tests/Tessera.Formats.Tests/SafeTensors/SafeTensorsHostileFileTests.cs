using Tessera.Formats.SafeTensors;

namespace Tessera.Formats.Tests.SafeTensors;

/// <summary>Files that lie about themselves: each must fail with a message naming the file and the problem.</summary>
public sealed class SafeTensorsHostileFileTests : IDisposable
{
    readonly SafeTensorsTestFiles _files = new();

    public void Dispose() => _files.Dispose();

    TesseraFormatException OpenFails(string path)
    {
        var e = Assert.Throws<TesseraFormatException>(() => SafeTensorsFile.Open(path));
        Assert.Equal(path, e.FilePath);
        Assert.StartsWith(path + ": ", e.Message);
        // ReadHeader validates identically.
        var again = Assert.Throws<TesseraFormatException>(() => SafeTensorsFile.ReadHeader(path));
        Assert.Equal(e.Message, again.Message);
        return e;
    }

    string Write(string header, int dataBytes, ulong? lengthOverride = null) =>
        _files.WriteRaw($"f{Guid.NewGuid():N}.safetensors", header, new byte[dataBytes], lengthOverride);

    const string Ok = """{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}""";

    [Fact]
    public void File_shorter_than_the_length_prefix()
    {
        string path = _files.PathFor("tiny.safetensors");
        File.WriteAllBytes(path, [1, 2, 3]);
        Assert.Equal($"{path}: file is 3 bytes; a safetensors file starts with an 8-byte header length", OpenFails(path).Message);
    }

    [Fact]
    public void Header_with_invalid_utf8_inside_a_string()
    {
        byte[] raw = SafeTensorsTestFiles.Raw(Ok, new byte[8]);
        int dtype = Array.IndexOf(raw, (byte)'F', 8); // the F of "F32"
        raw[dtype] = 0xC3; // a lead byte followed by '3': not UTF-8
        string path = _files.PathFor("utf8.safetensors");
        File.WriteAllBytes(path, raw);
        Assert.Equal($"{path}: header is not valid UTF-8 text", OpenFails(path).Message);
    }

    [Fact]
    public void Truncated_header()
    {
        byte[] full = SafeTensorsTestFiles.Raw(Ok, new byte[8]);
        string path = _files.PathFor("trunc.safetensors");
        File.WriteAllBytes(path, full[..20]);
        Assert.Equal($"{path}: header length {Ok.Length} exceeds the 12 bytes that follow the length prefix (file is truncated or not safetensors)", OpenFails(path).Message);
    }

    [Fact]
    public void Header_length_larger_than_file()
    {
        string path = Write(Ok, 8, lengthOverride: 5000);
        Assert.Contains("header length 5000 exceeds the", OpenFails(path).Message);
    }

    [Fact]
    public void Header_length_two_to_the_sixtieth_is_refused_before_allocating()
    {
        string path = Write(Ok, 8, lengthOverride: 1UL << 60);
        Assert.Equal($"{path}: header length {1UL << 60} exceeds the limit of 100000000 bytes", OpenFails(path).Message);
    }

    [Fact]
    public void Header_length_zero()
    {
        string path = Write("", 8, lengthOverride: 0);
        Assert.Equal($"{path}: header length is 0; expected a JSON header of at least 2 bytes", OpenFails(path).Message);
    }

    [Fact]
    public void Header_that_is_not_json()
    {
        string path = Write("{not json", 0);
        Assert.StartsWith($"{path}: header is not valid JSON", OpenFails(path).Message);
    }

    [Fact]
    public void Non_object_json()
    {
        string path = Write("[1,2,3]", 0);
        Assert.Equal($"{path}: header must be a JSON object, found an array", OpenFails(path).Message);
    }

    [Fact]
    public void Overlapping_offsets()
    {
        string path = Write("""{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}""", 8);
        Assert.Equal($"{path}: tensor 'b' (bytes 4..8) overlaps tensor 'a' (bytes 0..8)", OpenFails(path).Message);
    }

    [Fact]
    public void Gap_between_tensors()
    {
        string path = Write("""{"a":{"dtype":"U8","shape":[2],"data_offsets":[0,2]},"b":{"dtype":"U8","shape":[2],"data_offsets":[4,6]}}""", 6);
        Assert.Equal($"{path}: gap in the data section: bytes 2..4 before tensor 'b' belong to no tensor", OpenFails(path).Message);
    }

    [Fact]
    public void Trailing_bytes_after_last_tensor()
    {
        string path = Write(Ok, 12);
        Assert.Equal($"{path}: data section is 12 bytes but the tensors cover only 8; bytes 8..12 belong to no tensor", OpenFails(path).Message);
    }

    [Fact]
    public void Offsets_past_end_of_file()
    {
        string path = Write("""{"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}""", 8);
        Assert.Equal($"{path}: tensor 'a': data_offsets [0, 16] run past the end of the 8-byte data section", OpenFails(path).Message);
    }

    [Fact]
    public void Begin_after_end()
    {
        string path = Write("""{"a":{"dtype":"U8","shape":[0],"data_offsets":[4,2]}}""", 8);
        Assert.Equal($"{path}: tensor 'a': data_offsets [4, 2] has begin after end", OpenFails(path).Message);
    }

    [Fact]
    public void Dtype_and_shape_disagree_with_byte_count()
    {
        string path = Write("""{"a":{"dtype":"F64","shape":[2],"data_offsets":[0,8]}}""", 8);
        Assert.Equal($"{path}: tensor 'a': data_offsets [0, 8] span 8 bytes but dtype F64 with shape [2] needs 16", OpenFails(path).Message);
    }

    [Fact]
    public void Negative_dimension()
    {
        string path = Write("""{"a":{"dtype":"U8","shape":[2,-4],"data_offsets":[0,8]}}""", 8);
        Assert.Equal($"{path}: tensor 'a': shape[1] is -4; expected a non-negative integer", OpenFails(path).Message);
    }

    [Fact]
    public void Non_integer_dimension()
    {
        string path = Write("""{"a":{"dtype":"U8","shape":[2.5],"data_offsets":[0,8]}}""", 8);
        Assert.Equal($"{path}: tensor 'a': shape[0] is 2.5; expected a non-negative integer", OpenFails(path).Message);
    }

    [Fact]
    public void Shape_product_overflow()
    {
        string path = Write("""{"a":{"dtype":"U8","shape":[4294967296,4294967296],"data_offsets":[0,8]}}""", 8);
        Assert.Equal($"{path}: tensor 'a': shape [4294967296, 4294967296] has more elements than fit in 64 bits", OpenFails(path).Message);
    }

    [Fact]
    public void Byte_count_overflow()
    {
        // 2^62 elements fit in a long, but 2^62 * 4 bytes do not.
        string path = Write("""{"a":{"dtype":"F32","shape":[4611686018427387904],"data_offsets":[0,8]}}""", 8);
        Assert.Equal($"{path}: tensor 'a': 4611686018427387904 elements of F32 overflow a 64-bit byte count", OpenFails(path).Message);
    }

    [Fact]
    public void Unknown_dtype()
    {
        string path = Write("""{"a":{"dtype":"F8_E9M9","shape":[8],"data_offsets":[0,8]}}""", 8);
        Assert.StartsWith($"{path}: tensor 'a': unknown dtype 'F8_E9M9'; expected one of BOOL, U8, I8,", OpenFails(path).Message);
    }

    [Fact]
    public void Duplicate_tensor_names()
    {
        string path = Write("""{"a":{"dtype":"U8","shape":[4],"data_offsets":[0,4]},"a":{"dtype":"U8","shape":[4],"data_offsets":[4,8]}}""", 8);
        Assert.Equal($"{path}: tensor 'a' appears more than once in the header", OpenFails(path).Message);
    }

    [Theory]
    [InlineData("dtype", """{"a":{"shape":[2],"data_offsets":[0,8]}}""")]
    [InlineData("shape", """{"a":{"dtype":"F32","data_offsets":[0,8]}}""")]
    [InlineData("data_offsets", """{"a":{"dtype":"F32","shape":[2]}}""")]
    public void Missing_field(string field, string header)
    {
        string path = Write(header, 8);
        Assert.Equal($"{path}: tensor 'a': missing '{field}'", OpenFails(path).Message);
    }

    [Fact]
    public void Data_offsets_not_a_pair()
    {
        string path = Write("""{"a":{"dtype":"F32","shape":[2],"data_offsets":[0]}}""", 8);
        Assert.Equal($"{path}: tensor 'a': 'data_offsets' must be [begin, end], found [0]", OpenFails(path).Message);
    }

    [Fact]
    public void Metadata_with_non_string_value()
    {
        string path = Write("""{"__metadata__":{"epoch":3},"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}""", 8);
        Assert.Equal($"{path}: '__metadata__' entry 'epoch' must be a string, found a number", OpenFails(path).Message);
    }

    [Fact]
    public void Tensor_entry_that_is_not_an_object()
    {
        string path = Write("""{"a":"F32"}""", 0);
        Assert.Equal($"{path}: tensor 'a': expected an object with dtype, shape and data_offsets, found a string", OpenFails(path).Message);
    }
}
