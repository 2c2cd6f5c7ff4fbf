using Tessera.Runtime.Quantization;

namespace Tessera.Runtime.Tests.Quantization;

public class BlockwiseInt8QuantizerTests
{
    [Fact]
    public void Each_block_of_a_column_gets_its_own_scale_and_codes_are_offset_by_128()
    {
        // [K=20, N=2] with block 16: column 0 has a large value in block 0 only; block 1 (rows 16-19) is small.
        var w = new float[20 * 2];
        for (int k = 0; k < 20; k++) { w[k * 2] = k < 16 ? 0.1f : 0.01f; w[k * 2 + 1] = -0.5f; }
        w[3 * 2] = 12.7f;
        var (codes, scales) = BlockwiseInt8Quantizer.Quantize(w, k: 20, n: 2, transposed: false, blockSize: 16);

        Assert.Equal(2 * 2 * 16, codes.Length); // [N=2, blocks=2, 16]
        Assert.Equal([0.1f, 0.01f / 127f, 0.5f / 127f, 0.5f / 127f], scales); // [N, blocks]
        Assert.Equal(128 + 127, codes[3]); // 12.7 / 0.1
        Assert.Equal(128 + 1, codes[0]); // 0.1 / 0.1
        Assert.Equal(128 + 127, codes[16]); // column 0, block 1, row 16: its own scale
        Assert.All(codes.AsSpan(16 + 4, 12).ToArray(), c => Assert.Equal(128, c)); // rows 20-31 are padding
        Assert.Equal(128 - 127, codes[32]); // column 1, row 0
    }

    [Fact]
    public void Dequantized_weights_are_within_half_a_step_of_their_block_scale()
    {
        float[] w = ProtoModels.Random(100 * 7, seed: 5); // [K=100, N=7]
        var transposed = new float[w.Length];
        for (int k = 0; k < 100; k++)
            for (int n = 0; n < 7; n++) transposed[n * 100 + k] = w[k * 7 + n];
        var (codes, scales) = BlockwiseInt8Quantizer.Quantize(w, 100, 7, transposed: false, blockSize: 32);
        var fromTransposed = BlockwiseInt8Quantizer.Quantize(transposed, 100, 7, transposed: true, blockSize: 32);
        Assert.Equal(codes, fromTransposed.Codes);
        Assert.Equal(scales, fromTransposed.Scales);

        const int blocks = 4;
        for (int k = 0; k < 100; k++)
            for (int n = 0; n < 7; n++)
            {
                float scale = scales[n * blocks + k / 32];
                float back = (codes[(n * blocks + k / 32) * 32 + k % 32] - 128) * scale;
                Assert.True(Math.Abs(back - w[k * 7 + n]) <= scale / 2 + 1e-7f, $"w[{k},{n}] = {w[k * 7 + n]} came back as {back}");
            }
    }

    [Theory]
    [InlineData(8)]
    [InlineData(48)]
    public void Block_size_must_be_a_power_of_two_of_at_least_16(int blockSize)
    {
        var e = Assert.Throws<ArgumentException>(() => BlockwiseInt8Quantizer.Quantize(new float[64], 8, 8, false, blockSize));
        Assert.Contains("power of two", e.Message);
    }
}
