using System.Buffers.Binary;
using System.Text;

namespace Tessera.Tracking.TensorBoard;

/// <summary>The few protobuf wire-format pieces the event files need, written by hand (no protobuf dependency).</summary>
internal sealed class ProtoWriter
{
    readonly MemoryStream _buffer = new();

    public byte[] ToArray() => _buffer.ToArray();

    void Varint(ulong value)
    {
        while (value >= 0x80)
        {
            _buffer.WriteByte((byte)(value | 0x80));
            value >>= 7;
        }
        _buffer.WriteByte((byte)value);
    }

    void Tag(int field, int wireType) => Varint((ulong)((field << 3) | wireType));

    public ProtoWriter Int64(int field, long value) { Tag(field, 0); Varint(unchecked((ulong)value)); return this; }

    public ProtoWriter Double(int field, double value)
    {
        Tag(field, 1);
        Span<byte> b = stackalloc byte[8];
        BinaryPrimitives.WriteDoubleLittleEndian(b, value);
        _buffer.Write(b);
        return this;
    }

    public ProtoWriter Float(int field, float value)
    {
        Tag(field, 5);
        Span<byte> b = stackalloc byte[4];
        BinaryPrimitives.WriteSingleLittleEndian(b, value);
        _buffer.Write(b);
        return this;
    }

    public ProtoWriter Bytes(int field, ReadOnlySpan<byte> value)
    {
        Tag(field, 2);
        Varint((ulong)value.Length);
        _buffer.Write(value);
        return this;
    }

    public ProtoWriter String(int field, string value) => Bytes(field, Encoding.UTF8.GetBytes(value));

    public ProtoWriter Message(int field, ProtoWriter message) => Bytes(field, message.ToArray());
}

/// <summary>Reads protobuf fields one at a time; throws <see cref="FormatException"/> on malformed input.</summary>
internal ref struct ProtoReader(ReadOnlySpan<byte> data)
{
    readonly ReadOnlySpan<byte> _data = data;
    int _pos;

    public bool Next(out int field, out int wireType)
    {
        if (_pos >= _data.Length) { field = 0; wireType = 0; return false; }
        ulong tag = Varint();
        field = (int)(tag >> 3);
        wireType = (int)(tag & 7);
        if (field == 0) throw new FormatException("protobuf field number 0");
        return true;
    }

    public ulong Varint()
    {
        ulong result = 0;
        for (int shift = 0; shift < 64; shift += 7)
        {
            if (_pos >= _data.Length) throw new FormatException("truncated varint");
            byte b = _data[_pos++];
            result |= (ulong)(b & 0x7F) << shift;
            if ((b & 0x80) == 0) return result;
        }
        throw new FormatException("varint longer than 10 bytes");
    }

    public double Double() => BinaryPrimitives.ReadDoubleLittleEndian(Take(8));

    public float Float() => BinaryPrimitives.ReadSingleLittleEndian(Take(4));

    public ReadOnlySpan<byte> LengthDelimited()
    {
        ulong n = Varint();
        if (n > (ulong)(_data.Length - _pos)) throw new FormatException($"length {n} runs past the end of the message");
        return Take((int)n);
    }

    public void Skip(int wireType)
    {
        switch (wireType)
        {
            case 0: Varint(); break;
            case 1: Take(8); break;
            case 2: LengthDelimited(); break;
            case 5: Take(4); break;
            default: throw new FormatException($"unsupported protobuf wire type {wireType}");
        }
    }

    ReadOnlySpan<byte> Take(int n)
    {
        if (n > _data.Length - _pos) throw new FormatException("message truncated");
        ReadOnlySpan<byte> s = _data.Slice(_pos, n);
        _pos += n;
        return s;
    }
}
