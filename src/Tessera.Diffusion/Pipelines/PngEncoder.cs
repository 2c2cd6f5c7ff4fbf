using System.Buffers.Binary;
using System.IO.Compression;
using System.Text;
using Tessera.Formats;

namespace Tessera.Diffusion.Pipelines;

/// <summary>A minimal PNG writer (8-bit gray, gray+alpha, RGB or RGBA; no filtering; zlib via <see cref="ZLibStream"/>), written atomically.</summary>
internal static class PngEncoder
{
    static readonly uint[] CrcTable = BuildCrcTable();

    public static void Write(string path, ReadOnlySpan<byte> pixels, int width, int height, int channels)
    {
        byte colorType = channels switch
        {
            1 => 0,
            2 => 4,
            3 => 2,
            4 => 6,
            _ => throw new NotSupportedException($"PNG images have 1 to 4 channels, got {channels}"),
        };
        using var file = new MemoryStream();
        file.Write([0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A]);
        var header = new byte[13];
        BinaryPrimitives.WriteInt32BigEndian(header, width);
        BinaryPrimitives.WriteInt32BigEndian(header.AsSpan(4), height);
        header[8] = 8;
        header[9] = colorType;
        Chunk(file, "IHDR", header);
        using (var raw = new MemoryStream())
        {
            using (var z = new ZLibStream(raw, CompressionLevel.Optimal, leaveOpen: true))
            {
                int stride = width * channels;
                for (int y = 0; y < height; y++)
                {
                    z.WriteByte(0); // filter: none
                    z.Write(pixels.Slice(y * stride, stride));
                }
            }
            Chunk(file, "IDAT", raw.ToArray());
        }
        Chunk(file, "IEND", []);
        AtomicFile.Write(path, stream => file.WriteTo(stream));
    }

    static void Chunk(Stream output, string type, ReadOnlySpan<byte> data)
    {
        Span<byte> len = stackalloc byte[4];
        BinaryPrimitives.WriteInt32BigEndian(len, data.Length);
        output.Write(len);
        byte[] typeBytes = Encoding.ASCII.GetBytes(type);
        output.Write(typeBytes);
        output.Write(data);
        uint crc = Crc(Crc(0xFFFFFFFFu, typeBytes), data) ^ 0xFFFFFFFFu;
        BinaryPrimitives.WriteUInt32BigEndian(len, crc);
        output.Write(len);
    }

    static uint Crc(uint crc, ReadOnlySpan<byte> data)
    {
        foreach (byte b in data) crc = CrcTable[(crc ^ b) & 0xFF] ^ (crc >> 8);
        return crc;
    }

    static uint[] BuildCrcTable()
    {
        var table = new uint[256];
        for (uint n = 0; n < 256; n++)
        {
            uint c = n;
            for (int k = 0; k < 8; k++) c = (c & 1) != 0 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
            table[n] = c;
        }
        return table;
    }
}
