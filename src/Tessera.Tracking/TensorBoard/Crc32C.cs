namespace Tessera.Tracking.TensorBoard;

/// <summary>CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), the checksum TensorBoard record framing uses.</summary>
public static class Crc32C
{
    static readonly uint[] Table = BuildTable();

    static uint[] BuildTable()
    {
        var table = new uint[256];
        for (uint i = 0; i < 256; i++)
        {
            uint c = i;
            for (int k = 0; k < 8; k++) c = (c & 1) != 0 ? (c >> 1) ^ 0x82F63B78u : c >> 1;
            table[i] = c;
        }
        return table;
    }

    /// <summary>The CRC-32C of <paramref name="data"/>.</summary>
    public static uint Compute(ReadOnlySpan<byte> data) => Append(0, data);

    /// <summary>Continues <paramref name="crc"/> (a previous result, or 0 to start) over <paramref name="data"/>.</summary>
    public static uint Append(uint crc, ReadOnlySpan<byte> data)
    {
        uint c = ~crc;
        foreach (byte b in data) c = Table[(c ^ b) & 0xFF] ^ (c >> 8);
        return ~c;
    }

    /// <summary>TFRecord's masked CRC: <c>((crc &gt;&gt; 15) | (crc &lt;&lt; 17)) + 0xa282ead8</c>.</summary>
    public static uint Mask(uint crc) => unchecked(((crc >> 15) | (crc << 17)) + 0xa282ead8u);

    /// <summary>The masked CRC-32C of <paramref name="data"/>, as stored in TFRecord framing.</summary>
    public static uint ComputeMasked(ReadOnlySpan<byte> data) => Mask(Compute(data));
}
