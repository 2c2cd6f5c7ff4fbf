namespace Tessera.Runtime;

/// <summary>
/// A dense row-major tensor for <see cref="OnnxModel.Run"/>: a managed array of float, double, long, int or byte and a shape.
/// The array is used in place (pinned while the model reads it), not copied.
/// </summary>
public sealed class NamedTensor
{
    readonly long[] shape;

    /// <summary>A float tensor over <paramref name="data"/>.</summary>
    /// <exception cref="ArgumentException">The shape's element count is not the array's length.</exception>
    public NamedTensor(float[] data, params long[] shape) : this(data, TensorDataType.Float32, shape) { }

    /// <summary>An int64 tensor over <paramref name="data"/>.</summary>
    /// <exception cref="ArgumentException">The shape's element count is not the array's length.</exception>
    public NamedTensor(long[] data, params long[] shape) : this(data, TensorDataType.Int64, shape) { }

    /// <summary>An int32 tensor over <paramref name="data"/>.</summary>
    /// <exception cref="ArgumentException">The shape's element count is not the array's length.</exception>
    public NamedTensor(int[] data, params long[] shape) : this(data, TensorDataType.Int32, shape) { }

    /// <summary>A double tensor over <paramref name="data"/>.</summary>
    /// <exception cref="ArgumentException">The shape's element count is not the array's length.</exception>
    public NamedTensor(double[] data, params long[] shape) : this(data, TensorDataType.Float64, shape) { }

    /// <summary>A uint8 tensor over <paramref name="data"/>.</summary>
    /// <exception cref="ArgumentException">The shape's element count is not the array's length.</exception>
    public NamedTensor(byte[] data, params long[] shape) : this(data, TensorDataType.UInt8, shape) { }

    NamedTensor(Array data, TensorDataType type, long[] shape)
    {
        ArgumentNullException.ThrowIfNull(data);
        ArgumentNullException.ThrowIfNull(shape);
        long count = 1;
        foreach (long d in shape)
        {
            if (d < 0) throw new ArgumentException($"Shape [{string.Join(",", shape)}] has a negative dimension.", nameof(shape));
            count *= d;
        }
        if (count != data.LongLength)
            throw new ArgumentException($"Shape [{string.Join(",", shape)}] holds {count} elements but the array has {data.LongLength}.", nameof(shape));
        Data = data;
        DataType = type;
        this.shape = (long[])shape.Clone();
    }

    /// <summary>The element type.</summary>
    public TensorDataType DataType { get; }

    /// <summary>The data: a <c>float[]</c>, <c>long[]</c>, <c>int[]</c> or <c>byte[]</c> as <see cref="DataType"/> says.</summary>
    public Array Data { get; }

    /// <summary>The dimensions, outermost first.</summary>
    public IReadOnlyList<long> Shape => shape;

    /// <summary>The number of dimensions.</summary>
    public int Rank => shape.Length;

    /// <summary>The number of elements.</summary>
    public long ElementCount => Data.LongLength;

    internal long[] ShapeArray => shape;

    /// <summary>The data as floats.</summary>
    /// <exception cref="InvalidOperationException">The tensor is not float.</exception>
    public float[] AsFloats() => Data as float[] ?? throw WrongType(TensorDataType.Float32);

    /// <summary>The data as 64-bit integers.</summary>
    /// <exception cref="InvalidOperationException">The tensor is not int64.</exception>
    public long[] AsInt64s() => Data as long[] ?? throw WrongType(TensorDataType.Int64);

    /// <summary>The data as 32-bit integers.</summary>
    /// <exception cref="InvalidOperationException">The tensor is not int32.</exception>
    public int[] AsInt32s() => Data as int[] ?? throw WrongType(TensorDataType.Int32);

    /// <summary>The data as doubles.</summary>
    /// <exception cref="InvalidOperationException">The tensor is not double.</exception>
    public double[] AsDoubles() => Data as double[] ?? throw WrongType(TensorDataType.Float64);

    /// <summary>The data as bytes.</summary>
    /// <exception cref="InvalidOperationException">The tensor is not uint8.</exception>
    public byte[] AsBytes() => Data as byte[] ?? throw WrongType(TensorDataType.UInt8);

    /// <summary>The type and shape as text, for example <c>Float32[2,784]</c>.</summary>
    public override string ToString() => $"{DataType}[{string.Join(",", shape)}]";

    InvalidOperationException WrongType(TensorDataType wanted) => new($"The tensor holds {DataType}, not {wanted}.");
}
