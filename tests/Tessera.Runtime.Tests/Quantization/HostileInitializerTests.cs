using Tessera.Formats;
using Tessera.Runtime.Quantization;

namespace Tessera.Runtime.Tests.Quantization;

/// <summary>An initializer whose dims lie about its data is a named format error, not an overflow or a huge array.</summary>
public class HostileInitializerTests
{
    [Theory]
    [InlineData(new long[] { 1L << 40, 1L << 40 }, "dims [1099511627776, 1099511627776], which are negative or overflow a 64-bit element count")]
    [InlineData(new long[] { 1L << 31, 4 }, "dims [2147483648, 4] (8589934592 values) but stores 64 bytes of raw_data")]
    [InlineData(new long[] { 4, 4 }, "dims [4, 4] (16 values) but stores 60 bytes of raw_data")]
    public void Quantize_names_the_initializer_whose_dims_do_not_match_its_data(long[] dims, string expected)
    {
        using var dir = new TempDirectory("tessera-hostile-onnx-");
        string path = dir.File("lying.onnx");
        ProtoModels.LyingMatMul(path, dims, expected.Contains("60 bytes") ? 60 : 64);
        var e = Assert.Throws<TesseraFormatException>(() =>
            DynamicQuantizer.Quantize(path, dir.File("q.onnx"), new DynamicQuantizationOptions { MinimumWeightElements = 1 }));
        Assert.Equal($"{path}: initializer 'w' has {expected}", e.Message);
        Assert.False(File.Exists(dir.File("q.onnx")));
    }
}
