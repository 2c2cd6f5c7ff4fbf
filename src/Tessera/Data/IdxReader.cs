using System.Buffers.Binary;
using System.IO.Compression;
using Tessera.Formats;

namespace Tessera.Data;

/// <summary>
/// Reads IDX files (the MNIST / Fashion-MNIST format): magic <c>00 00 type ndims</c>, <c>ndims</c> big-endian
/// int32 sizes, then the elements row-major. Gzip-compressed files (magic <c>1f 8b</c>) are decompressed on the fly.
/// The header is validated before anything is allocated, and the data buffer grows only as bytes actually arrive,
/// so a file that lies about its sizes costs no more memory than its real content.
/// </summary>
public static class IdxReader
{
    /// <summary>Largest data section accepted, in bytes (the largest .NET byte array, just under 2 GiB).</summary>
    public const long MaxDataBytes = 0x7FFFFFC7;

    /// <summary>Most dimensions accepted.</summary>
    public const int MaxDims = 4;

    private const int InitialBufferBytes = 1 << 20;

    /// <summary>Reads the IDX file at <paramref name="path"/>, raw or gzip-compressed.</summary>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="TesseraFormatException">The file is not valid IDX: bad magic, unknown type, bad dimensions, data too large, truncated or with trailing bytes. The message names the file.</exception>
    public static IdxArray Read(string path)
    {
        using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
        return Read(file, path);
    }

    /// <summary>Reads one IDX array from <paramref name="stream"/> (raw or gzip-compressed), which must end right after the data.</summary>
    /// <param name="stream">The source; read to its end and not disposed.</param>
    /// <param name="sourceName">Name used in error messages (normally the file path).</param>
    /// <exception cref="TesseraFormatException">The content is not valid IDX (see <see cref="Read(string)"/>).</exception>
    public static IdxArray Read(Stream stream, string? sourceName = null)
    {
        ArgumentNullException.ThrowIfNull(stream);
        Span<byte> head = stackalloc byte[2];
        int got = stream.ReadAtLeast(head, 2, throwOnEndOfStream: false);
        var prefixed = new PrefixedStream(head[..got].ToArray(), stream);
        if (got == 2 && head[0] == 0x1f && head[1] == 0x8b)
        {
            try
            {
                using var gzip = new GZipStream(prefixed, CompressionMode.Decompress, leaveOpen: true);
                return ReadRaw(gzip, sourceName, knownLength: null);
            }
            catch (InvalidDataException e)
            {
                throw new TesseraFormatException(sourceName, $"corrupt gzip stream: {e.Message}", e);
            }
        }
        long? length = stream.CanSeek ? stream.Length - stream.Position + got : null;
        return ReadRaw(prefixed, sourceName, length);
    }

    private static IdxArray ReadRaw(Stream stream, string? source, long? knownLength)
    {
        Span<byte> magic = stackalloc byte[4];
        int got = stream.ReadAtLeast(magic, 4, throwOnEndOfStream: false);
        if (got < 4)
            throw new TesseraFormatException(source, $"truncated IDX header: expected a 4-byte magic number, found {got} bytes.");
        if (magic[0] != 0 || magic[1] != 0)
            throw new TesseraFormatException(source, $"not an IDX file: magic starts with {magic[0]:x2} {magic[1]:x2}, expected 00 00.");
        var type = (IdxElementType)magic[2];
        if (!Enum.IsDefined(type))
            throw new TesseraFormatException(source, $"unknown IDX element type 0x{magic[2]:x2}; expected 08, 09, 0b, 0c, 0d or 0e.");
        int ndims = magic[3];
        if (ndims < 1 || ndims > MaxDims)
            throw new TesseraFormatException(source, $"IDX header declares {ndims} dimensions; expected 1 to {MaxDims}.");

        Span<byte> dimBytes = stackalloc byte[4 * MaxDims];
        dimBytes = dimBytes[..(4 * ndims)];
        got = stream.ReadAtLeast(dimBytes, dimBytes.Length, throwOnEndOfStream: false);
        if (got < dimBytes.Length)
            throw new TesseraFormatException(source, $"truncated IDX header: expected {dimBytes.Length} bytes of dimensions, found {got}.");
        var dims = new int[ndims];
        int elementSize = IdxArray.ElementSize(type);
        long expected = elementSize;
        for (int i = 0; i < ndims; i++)
        {
            dims[i] = BinaryPrimitives.ReadInt32BigEndian(dimBytes.Slice(4 * i, 4));
            if (dims[i] < 0)
                throw new TesseraFormatException(source, $"IDX dimension {i} is {(uint)dims[i]}; sizes above {int.MaxValue} are not supported.");
            // Both factors are below 2^31 here, so the product cannot overflow a long.
            expected *= dims[i];
            if (expected > MaxDataBytes)
                throw new TesseraFormatException(source, $"IDX dimensions [{string.Join(", ", dims[..(i + 1)])}{(i + 1 < ndims ? ", ..." : "")}] of {type} need more than {MaxDataBytes} bytes.");
        }

        string shape = $"[{string.Join(", ", dims)}] of {type}";
        long headerBytes = 4 + 4L * ndims;
        if (knownLength is long total)
        {
            long actual = total - headerBytes;
            if (actual < expected)
                throw new TesseraFormatException(source, $"truncated IDX data: dimensions {shape} need {expected} bytes, found {actual}.");
            if (actual > expected)
                throw new TesseraFormatException(source, $"IDX data has {actual - expected} trailing bytes after the {expected} bytes that dimensions {shape} need.");
        }

        var data = new byte[Math.Min(expected, InitialBufferBytes)];
        int filled = 0;
        while (filled < expected)
        {
            if (filled == data.Length)
                Array.Resize(ref data, (int)Math.Min(expected, 2L * data.Length));
            int n = stream.Read(data, filled, data.Length - filled);
            if (n == 0)
                throw new TesseraFormatException(source, $"truncated IDX data: dimensions {shape} need {expected} bytes, found {filled}.");
            filled += n;
        }
        if (stream.ReadByte() != -1)
            throw new TesseraFormatException(source, $"IDX data has trailing bytes after the {expected} bytes that dimensions {shape} need.");
        return new IdxArray(dims, type, data);
    }

    /// <summary>Replays a few bytes already read for format detection, then the rest of the inner stream.</summary>
    private sealed class PrefixedStream(byte[] prefix, Stream inner) : Stream
    {
        private int _offset;

        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

        public override int Read(Span<byte> buffer)
        {
            if (_offset < prefix.Length)
            {
                int n = Math.Min(buffer.Length, prefix.Length - _offset);
                prefix.AsSpan(_offset, n).CopyTo(buffer);
                _offset += n;
                return n;
            }
            return inner.Read(buffer);
        }

        public override void Flush() { }
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
