using System.Text;
using Tessera.Tracking.TensorBoard;

namespace Tessera.Tracking.Tests.TensorBoard;

public class Crc32CTests
{
    // Test vectors from RFC 3720 appendix B.4 and the common "123456789" check value.
    [Fact]
    public void Known_vectors()
    {
        Assert.Equal(0x8A9136AAu, Crc32C.Compute(new byte[32]));
        Assert.Equal(0x62A8AB43u, Crc32C.Compute(Enumerable.Repeat((byte)0xFF, 32).ToArray()));
        Assert.Equal(0x46DD794Eu, Crc32C.Compute(Enumerable.Range(0, 32).Select(i => (byte)i).ToArray()));
        Assert.Equal(0x113FDB5Cu, Crc32C.Compute(Enumerable.Range(0, 32).Select(i => (byte)(31 - i)).ToArray()));
        Assert.Equal(0xE3069283u, Crc32C.Compute("123456789"u8));
        Assert.Equal(0u, Crc32C.Compute([]));
    }

    [Fact]
    public void Append_in_pieces_equals_whole()
    {
        byte[] data = Encoding.ASCII.GetBytes("The quick brown fox jumps over the lazy dog");
        uint partial = Crc32C.Append(Crc32C.Compute(data.AsSpan(0, 10)), data.AsSpan(10));
        Assert.Equal(Crc32C.Compute(data), partial);
    }

    [Fact]
    public void Mask_follows_the_tfrecord_formula()
    {
        uint crc = 0xE3069283u;
        uint rotated = (crc >> 15) | (crc << 17);
        Assert.Equal(unchecked(rotated + 0xa282ead8u), Crc32C.Mask(crc));
        Assert.Equal(Crc32C.Mask(Crc32C.Compute("123456789"u8)), Crc32C.ComputeMasked("123456789"u8));
    }
}
