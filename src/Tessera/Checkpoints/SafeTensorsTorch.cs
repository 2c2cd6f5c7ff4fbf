using Tessera.Formats;
using Tessera.Formats.SafeTensors;
using TorchSharp;
using static TorchSharp.torch;

namespace Tessera.Checkpoints;

/// <summary>Saves and loads TorchSharp tensors as safetensors files (tensor dictionaries; module weights load through <see cref="Transformers.PretrainedWeights.LoadInto(nn.Module, string, Transformers.FromPretrainedOptions?)"/>).</summary>
/// <remarks>
/// Tensors move to the CPU and are written one at a time straight from their native memory, so saving never holds
/// a second copy of the whole model. Loading reads from a memory mapping, one tensor at a time.
/// </remarks>
public static class SafeTensorsTorch
{
    /// <summary>Largest piece copied through one span (spans address at most 2 GB).</summary>
    const long ChunkBytes = 1L << 30;

    /// <summary>Writes <paramref name="tensors"/> to <paramref name="path"/> atomically, in the given order.</summary>
    /// <exception cref="NotSupportedException">A tensor's dtype has no safetensors equivalent (e.g. complex).</exception>
    /// <exception cref="ArgumentException">A name is repeated or reserved.</exception>
    public static void Save(string path, IEnumerable<KeyValuePair<string, Tensor>> tensors, IReadOnlyDictionary<string, string>? metadata = null)
    {
        ArgumentNullException.ThrowIfNull(tensors);
        RequireLittleEndian();
        var entries = new List<SafeTensorEntry>();
        foreach (var (name, tensor) in tensors)
        {
            SafeTensorDType dtype = ToSafeTensors(tensor.dtype, name);
            entries.Add(new SafeTensorEntry(name, dtype, tensor.shape, stream => WriteTensor(tensor, stream)));
        }
        SafeTensorsWriter.Write(path, entries, metadata);
    }

    /// <summary>Reads every tensor of <paramref name="path"/>, placing them on <paramref name="device"/> (CPU when null).</summary>
    /// <exception cref="TesseraFormatException">The file is not valid safetensors.</exception>
    /// <exception cref="NotSupportedException">A dtype in the file has no TorchSharp equivalent (U16, U32, U64).</exception>
    public static Dictionary<string, Tensor> Load(string path, Device? device = null)
    {
        RequireLittleEndian();
        using SafeTensorsFile file = SafeTensorsFile.Open(path);
        var result = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        try
        {
            foreach (SafeTensorInfo info in file.Tensors)
            {
                using var scope = NewDisposeScope();
                Tensor cpu = ReadTensor(file, info);
                Tensor placed = device is null || device.type == DeviceType.CPU ? cpu : cpu.to(device);
                result[info.Name] = placed.MoveToOuterDisposeScope();
            }
        }
        catch
        {
            foreach (Tensor t in result.Values) t.Dispose();
            throw;
        }
        return result;
    }

    /// <summary>The safetensors dtype for a TorchSharp scalar type.</summary>
    /// <exception cref="NotSupportedException">The type has no safetensors equivalent.</exception>
    public static SafeTensorDType ToSafeTensors(ScalarType type) => ToSafeTensors(type, null);

    /// <summary>The TorchSharp scalar type for a safetensors dtype.</summary>
    /// <exception cref="NotSupportedException">TorchSharp has no such type (U16, U32, U64).</exception>
    public static ScalarType ToTorch(SafeTensorDType dtype) => dtype switch
    {
        SafeTensorDType.F32 => ScalarType.Float32,
        SafeTensorDType.F16 => ScalarType.Float16,
        SafeTensorDType.BF16 => ScalarType.BFloat16,
        SafeTensorDType.F64 => ScalarType.Float64,
        SafeTensorDType.I64 => ScalarType.Int64,
        SafeTensorDType.I32 => ScalarType.Int32,
        SafeTensorDType.I16 => ScalarType.Int16,
        SafeTensorDType.I8 => ScalarType.Int8,
        SafeTensorDType.U8 => ScalarType.Byte,
        SafeTensorDType.BOOL => ScalarType.Bool,
        _ => throw new NotSupportedException($"safetensors dtype {dtype} has no TorchSharp equivalent"),
    };

    static SafeTensorDType ToSafeTensors(ScalarType type, string? name) => type switch
    {
        ScalarType.Float32 => SafeTensorDType.F32,
        ScalarType.Float16 => SafeTensorDType.F16,
        ScalarType.BFloat16 => SafeTensorDType.BF16,
        ScalarType.Float64 => SafeTensorDType.F64,
        ScalarType.Int64 => SafeTensorDType.I64,
        ScalarType.Int32 => SafeTensorDType.I32,
        ScalarType.Int16 => SafeTensorDType.I16,
        ScalarType.Int8 => SafeTensorDType.I8,
        ScalarType.Byte => SafeTensorDType.U8,
        ScalarType.Bool => SafeTensorDType.BOOL,
        _ => throw new NotSupportedException(name is null
            ? $"TorchSharp dtype {type} has no safetensors equivalent"
            : $"tensor '{name}': TorchSharp dtype {type} has no safetensors equivalent"),
    };

    static void WriteTensor(Tensor tensor, Stream stream)
    {
        using var scope = NewDisposeScope();
        Tensor cpu = tensor.detach().cpu().contiguous();
        long total = cpu.numel() * cpu.ElementSize;
        if (total == 0) return;
        if (total <= ChunkBytes)
        {
            stream.Write(cpu.bytes);
            return;
        }
        // Spans stop at 2 GB: write a big tensor through contiguous 1-D views of it.
        Tensor flat = cpu.flatten();
        long perChunk = ChunkBytes / cpu.ElementSize;
        for (long start = 0; start < flat.numel(); start += perChunk)
        {
            using Tensor piece = flat.narrow(0, start, Math.Min(perChunk, flat.numel() - start));
            stream.Write(piece.bytes);
        }
    }

    /// <summary>A new CPU tensor with the bytes of <paramref name="info"/>; the caller owns it.</summary>
    static Tensor ReadTensor(SafeTensorsFile file, SafeTensorInfo info)
    {
        Tensor result = empty(info.Shape, ToTorch(info.DType), CPU);
        if (info.ByteLength == 0) return result;
        if (info.ByteLength <= ChunkBytes)
        {
            file.GetSpan(info.Name).CopyTo(result.bytes);
            return result;
        }
        using Tensor flat = result.view(-1);
        int elementSize = info.DType.ElementSize();
        long perChunk = ChunkBytes / elementSize;
        for (long start = 0; start < flat.numel(); start += perChunk)
        {
            long count = Math.Min(perChunk, flat.numel() - start);
            using Tensor piece = flat.narrow(0, start, count);
            file.GetSpan(info.Name, start * elementSize, checked((int)(count * elementSize))).CopyTo(piece.bytes);
        }
        return result;
    }

    static void RequireLittleEndian()
    {
        if (!BitConverter.IsLittleEndian)
            throw new PlatformNotSupportedException("safetensors stores little-endian data; big-endian hosts are not supported");
    }
}
