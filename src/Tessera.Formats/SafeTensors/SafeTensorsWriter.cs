using System.Buffers.Binary;
using System.Text.Json;

namespace Tessera.Formats.SafeTensors;

/// <summary>Writes safetensors files atomically (temporary file, then rename).</summary>
public static class SafeTensorsWriter
{
    /// <summary>
    /// Writes <paramref name="entries"/> to <paramref name="path"/>: header keys in the given order (<c>__metadata__</c>
    /// first when present), header padded with spaces to a multiple of 8 bytes, then the tensors' bytes in the same order.
    /// </summary>
    /// <exception cref="ArgumentException">Names are duplicated or reserved, or a shape is negative or too large.</exception>
    /// <exception cref="TesseraFormatException">An entry's <see cref="SafeTensorEntry.WriteData"/> wrote a different number of bytes than its dtype and shape need; the existing file (if any) is left untouched.</exception>
    public static void Write(string path, IReadOnlyList<SafeTensorEntry> entries, IReadOnlyDictionary<string, string>? metadata = null)
    {
        ArgumentNullException.ThrowIfNull(entries);
        long[] sizes = new long[entries.Count];
        var names = new HashSet<string>(StringComparer.Ordinal);
        for (int i = 0; i < entries.Count; i++)
        {
            SafeTensorEntry e = entries[i];
            if (e.Name == SafeTensorsHeader.MetadataKey)
                throw new ArgumentException($"'{SafeTensorsHeader.MetadataKey}' is reserved and cannot name a tensor", nameof(entries));
            if (!names.Add(e.Name))
                throw new ArgumentException($"tensor '{e.Name}' appears more than once", nameof(entries));
            sizes[i] = ByteLength(e);
        }
        byte[] header = BuildHeader(entries, sizes, metadata);

        AtomicFile.Write(path, stream =>
        {
            Span<byte> prefix = stackalloc byte[8];
            BinaryPrimitives.WriteUInt64LittleEndian(prefix, (ulong)header.Length);
            stream.Write(prefix);
            stream.Write(header);
            for (int i = 0; i < entries.Count; i++)
            {
                using var counter = new CountingStream(stream, sizes[i], entries[i].Name, path);
                entries[i].WriteData(counter);
                if (counter.Written != sizes[i])
                    throw new TesseraFormatException(path, $"tensor '{entries[i].Name}': wrote {counter.Written} bytes, expected {sizes[i]} for dtype {entries[i].DType.HeaderName()} with shape [{string.Join(", ", entries[i].Shape)}]");
            }
        });
    }

    /// <summary>Writes tensors whose bytes are already in memory; see <see cref="Write(string, IReadOnlyList{SafeTensorEntry}, IReadOnlyDictionary{string, string}?)"/>.</summary>
    public static void Write(string path, IEnumerable<(string Name, SafeTensorDType DType, long[] Shape, ReadOnlyMemory<byte> Data)> tensors,
        IReadOnlyDictionary<string, string>? metadata = null) =>
        Write(path, tensors.Select(t => new SafeTensorEntry(t.Name, t.DType, t.Shape, t.Data)).ToList(), metadata);

    static long ByteLength(SafeTensorEntry e)
    {
        long elements = 1;
        foreach (long d in e.Shape)
        {
            if (d < 0)
                throw new ArgumentException($"tensor '{e.Name}': shape [{string.Join(", ", e.Shape)}] has a negative dimension", nameof(e.Shape));
            try { elements = checked(elements * d); }
            catch (OverflowException) { throw new ArgumentException($"tensor '{e.Name}': shape [{string.Join(", ", e.Shape)}] is too large", nameof(e.Shape)); }
        }
        try { return checked(elements * e.DType.ElementSize()); }
        catch (OverflowException) { throw new ArgumentException($"tensor '{e.Name}': shape [{string.Join(", ", e.Shape)}] is too large", nameof(e.Shape)); }
    }

    static byte[] BuildHeader(IReadOnlyList<SafeTensorEntry> entries, long[] sizes, IReadOnlyDictionary<string, string>? metadata)
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            if (metadata is { Count: > 0 })
            {
                json.WriteStartObject(SafeTensorsHeader.MetadataKey);
                foreach (var (key, value) in metadata) json.WriteString(key, value);
                json.WriteEndObject();
            }
            long offset = 0;
            for (int i = 0; i < entries.Count; i++)
            {
                json.WriteStartObject(entries[i].Name);
                json.WriteString("dtype", entries[i].DType.HeaderName());
                json.WriteStartArray("shape");
                foreach (long d in entries[i].Shape) json.WriteNumberValue(d);
                json.WriteEndArray();
                json.WriteStartArray("data_offsets");
                json.WriteNumberValue(offset);
                json.WriteNumberValue(offset + sizes[i]);
                json.WriteEndArray();
                json.WriteEndObject();
                offset += sizes[i];
            }
            json.WriteEndObject();
        }
        // Pad with spaces so the data section starts 8-byte aligned, as the reference writer does.
        while (buffer.Length % 8 != 0) buffer.WriteByte((byte)' ');
        return buffer.ToArray();
    }

    /// <summary>Passes writes through, refusing to go past the tensor's size so a buggy writer cannot fill the disk.</summary>
    sealed class CountingStream(Stream inner, long limit, string name, string path) : Stream
    {
        public long Written { get; private set; }
        public override bool CanRead => false;
        public override bool CanSeek => false;
        public override bool CanWrite => true;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => Written; set => throw new NotSupportedException(); }
        public override void Flush() { }
        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

        public override void Write(ReadOnlySpan<byte> buffer)
        {
            if (buffer.Length > limit - Written)
                throw new TesseraFormatException(path, $"tensor '{name}': writer tried to write more than the {limit} bytes its dtype and shape need");
            inner.Write(buffer);
            Written += buffer.Length;
        }

        public override void WriteByte(byte value) => Write([value]);
    }
}
