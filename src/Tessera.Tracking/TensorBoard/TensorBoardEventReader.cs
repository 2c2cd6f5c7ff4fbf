using System.Buffers.Binary;
using System.Text;
using Tessera.Formats;

namespace Tessera.Tracking.TensorBoard;

/// <summary>Reads TensorBoard event files, verifying both CRCs of every record.</summary>
public static class TensorBoardEventReader
{
    /// <summary>Largest record accepted; scalar and text events are far smaller.</summary>
    const ulong MaxRecordBytes = 256L << 20;

    /// <summary>All events of <paramref name="path"/>, in file order.</summary>
    /// <exception cref="TesseraFormatException">A record is truncated, has a bad CRC, or does not decode; the message gives the record's index and byte offset.</exception>
    public static IReadOnlyList<TensorBoardEvent> ReadEvents(string path)
    {
        byte[] bytes = File.ReadAllBytes(path);
        var events = new List<TensorBoardEvent>();
        long offset = 0;
        for (int index = 0; offset < bytes.Length; index++)
        {
            string where = $"record {index} at byte {offset}";
            if (bytes.Length - offset < 12)
                throw new TesseraFormatException(path, $"{where}: truncated header ({bytes.Length - offset} of 12 bytes)");
            ReadOnlySpan<byte> header = bytes.AsSpan((int)offset, 12);
            ulong length = BinaryPrimitives.ReadUInt64LittleEndian(header);
            if (BinaryPrimitives.ReadUInt32LittleEndian(header[8..]) != Crc32C.ComputeMasked(header[..8]))
                throw new TesseraFormatException(path, $"{where}: length CRC mismatch (corrupt file)");
            if (length > MaxRecordBytes)
                throw new TesseraFormatException(path, $"{where}: length {length} exceeds the {MaxRecordBytes}-byte limit");
            if ((ulong)(bytes.Length - offset - 12) < length + 4)
                throw new TesseraFormatException(path, $"{where}: truncated data (record needs {length + 4} bytes after its header, {bytes.Length - offset - 12} remain)");
            ReadOnlySpan<byte> data = bytes.AsSpan((int)offset + 12, (int)length);
            uint storedCrc = BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan((int)offset + 12 + (int)length, 4));
            if (storedCrc != Crc32C.ComputeMasked(data))
                throw new TesseraFormatException(path, $"{where}: data CRC mismatch (corrupt file)");
            try
            {
                events.Add(DecodeEvent(data));
            }
            catch (FormatException e)
            {
                throw new TesseraFormatException(path, $"{where}: not a valid Event protobuf: {e.Message}", e);
            }
            offset += 12 + (long)length + 4;
        }
        return events;
    }

    /// <summary>The scalar values of <paramref name="path"/>, in file order.</summary>
    /// <exception cref="TesseraFormatException">The file is corrupt or truncated.</exception>
    public static IReadOnlyList<TensorBoardScalar> ReadScalars(string path) =>
        ReadEvents(path)
            .SelectMany(e => e.Values.Where(v => v.SimpleValue.HasValue)
                .Select(v => new TensorBoardScalar(v.Tag, e.Step, v.SimpleValue!.Value, e.WallTime)))
            .ToList();

    static TensorBoardEvent DecodeEvent(ReadOnlySpan<byte> data)
    {
        var reader = new ProtoReader(data);
        double wallTime = 0;
        long step = 0;
        string? fileVersion = null;
        var values = new List<TensorBoardValue>();
        while (reader.Next(out int field, out int wire))
        {
            switch (field, wire)
            {
                case (1, 1): wallTime = reader.Double(); break;
                case (2, 0): step = unchecked((long)reader.Varint()); break;
                case (3, 2): fileVersion = Encoding.UTF8.GetString(reader.LengthDelimited()); break;
                case (5, 2): DecodeSummary(reader.LengthDelimited(), values); break;
                default: reader.Skip(wire); break;
            }
        }
        return new TensorBoardEvent(wallTime, step, fileVersion, values);
    }

    static void DecodeSummary(ReadOnlySpan<byte> data, List<TensorBoardValue> values)
    {
        var reader = new ProtoReader(data);
        while (reader.Next(out int field, out int wire))
        {
            if (field == 1 && wire == 2) values.Add(DecodeValue(reader.LengthDelimited()));
            else reader.Skip(wire);
        }
    }

    static TensorBoardValue DecodeValue(ReadOnlySpan<byte> data)
    {
        var reader = new ProtoReader(data);
        string tag = "";
        float? simple = null;
        string? text = null;
        while (reader.Next(out int field, out int wire))
        {
            switch (field, wire)
            {
                case (1, 2): tag = Encoding.UTF8.GetString(reader.LengthDelimited()); break;
                case (2, 5): simple = reader.Float(); break;
                case (8, 2): text = DecodeStringTensor(reader.LengthDelimited()); break;
                default: reader.Skip(wire); break;
            }
        }
        return new TensorBoardValue(tag, simple, text);
    }

    static string? DecodeStringTensor(ReadOnlySpan<byte> data)
    {
        var reader = new ProtoReader(data);
        string? text = null;
        while (reader.Next(out int field, out int wire))
        {
            if (field == 8 && wire == 2) text = Encoding.UTF8.GetString(reader.LengthDelimited());
            else reader.Skip(wire);
        }
        return text;
    }
}
