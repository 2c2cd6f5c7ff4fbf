using System.Buffers.Binary;
using System.Runtime.InteropServices;
using TorchSharp;
using static TorchSharp.torch;

namespace Tessera.Data;

/// <summary>
/// The contents of an IDX file: its dimensions, element type and the data bytes exactly as stored
/// (row-major, multi-byte elements big-endian). Use <see cref="ToTensor"/> for a tensor in native byte order.
/// </summary>
/// <param name="Dims">Dimension sizes, outermost first (1 to 4 of them).</param>
/// <param name="Type">Element type.</param>
/// <param name="Data">Raw element bytes, big-endian, length = product of <paramref name="Dims"/> times the element size.</param>
public sealed record IdxArray(int[] Dims, IdxElementType Type, byte[] Data)
{
    /// <summary>Number of elements (product of <see cref="Dims"/>).</summary>
    public long ElementCount => Dims.Aggregate(1L, (a, d) => a * d);

    /// <summary>Size in bytes of one element of <paramref name="type"/>.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="type"/> is not an IDX type.</exception>
    public static int ElementSize(IdxElementType type) => type switch
    {
        IdxElementType.UInt8 or IdxElementType.Int8 => 1,
        IdxElementType.Int16 => 2,
        IdxElementType.Int32 or IdxElementType.Float32 => 4,
        IdxElementType.Float64 => 8,
        _ => throw new ArgumentOutOfRangeException(nameof(type), type, "Not an IDX element type."),
    };

    /// <summary>
    /// Copies the data into a new CPU tensor of shape <see cref="Dims"/> whose dtype matches <see cref="Type"/>
    /// (uint8, int8, int16, int32, float32, float64), converting big-endian elements to native order. The tensor
    /// does not share memory with <see cref="Data"/>.
    /// </summary>
    public Tensor ToTensor()
    {
        long[] shape = Dims.Select(d => (long)d).ToArray();
        return Type switch
        {
            IdxElementType.UInt8 => torch.tensor(Data.ToArray(), shape), // a copy: the tensor must not alias the mutable array
            IdxElementType.Int8 => torch.tensor(Convert<sbyte>(), shape),
            IdxElementType.Int16 => torch.tensor(Convert<short>(), shape),
            IdxElementType.Int32 => torch.tensor(Convert<int>(), shape),
            IdxElementType.Float32 => torch.tensor(Convert<float>(), shape),
            IdxElementType.Float64 => torch.tensor(Convert<double>(), shape),
            _ => throw new InvalidOperationException($"Unknown IDX element type {Type}."),
        };
    }

    private T[] Convert<T>() where T : unmanaged
    {
        var result = new T[Data.Length / ElementSize(Type)];
        Span<byte> bytes = MemoryMarshal.AsBytes(result.AsSpan());
        Data.CopyTo(bytes);
        if (BitConverter.IsLittleEndian)
        {
            switch (ElementSize(Type))
            {
                case 2: BinaryPrimitives.ReverseEndianness(MemoryMarshal.Cast<byte, short>(bytes), MemoryMarshal.Cast<byte, short>(bytes)); break;
                case 4: BinaryPrimitives.ReverseEndianness(MemoryMarshal.Cast<byte, int>(bytes), MemoryMarshal.Cast<byte, int>(bytes)); break;
                case 8: BinaryPrimitives.ReverseEndianness(MemoryMarshal.Cast<byte, long>(bytes), MemoryMarshal.Cast<byte, long>(bytes)); break;
            }
        }
        return result;
    }
}
