using System.IO.MemoryMappedFiles;

namespace Tessera.Formats.SafeTensors;

/// <summary>
/// A safetensors file opened read-only through a memory mapping: the header is validated up front, tensor bytes
/// are read on demand without copying.
/// </summary>
/// <remarks>
/// Spans returned by <see cref="GetSpan(string)"/> point into the mapping and must not be used after <see cref="Dispose"/>.
/// Instances are safe to read from several threads at once.
/// </remarks>
public sealed unsafe class SafeTensorsFile : IDisposable
{
    readonly MemoryMappedFile _map;
    readonly MemoryMappedViewAccessor _view;
    readonly byte* _data;
    readonly Dictionary<string, SafeTensorInfo> _byName;
    bool _disposed;

    SafeTensorsFile(string path, SafeTensorsHeader.Parsed header, MemoryMappedFile map, MemoryMappedViewAccessor view)
    {
        FilePath = path;
        Tensors = header.Tensors;
        Metadata = header.Metadata;
        _byName = header.Tensors.ToDictionary(t => t.Name, StringComparer.Ordinal);
        _map = map;
        _view = view;
        byte* basePointer = null;
        view.SafeMemoryMappedViewHandle.AcquirePointer(ref basePointer);
        _data = basePointer + view.PointerOffset + header.DataStart;
    }

    /// <summary>The path the file was opened from.</summary>
    public string FilePath { get; }

    /// <summary>The <c>__metadata__</c> map of the header; empty when the file has none.</summary>
    public IReadOnlyDictionary<string, string> Metadata { get; }

    /// <summary>The tensors in header order.</summary>
    public IReadOnlyList<SafeTensorInfo> Tensors { get; }

    /// <summary>The tensor called <paramref name="name"/>.</summary>
    /// <exception cref="KeyNotFoundException">The file has no such tensor.</exception>
    public SafeTensorInfo this[string name] =>
        _byName.TryGetValue(name, out SafeTensorInfo? info)
            ? info
            : throw new KeyNotFoundException($"{FilePath}: no tensor named '{name}'");

    /// <summary>Looks up a tensor by name.</summary>
    public bool TryGet(string name, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out SafeTensorInfo? info) =>
        _byName.TryGetValue(name, out info);

    /// <summary>Opens and validates <paramref name="path"/>, then maps it read-only.</summary>
    /// <exception cref="TesseraFormatException">The file is not a valid safetensors file; the message says where and why.</exception>
    /// <exception cref="IOException">The file cannot be read.</exception>
    public static SafeTensorsFile Open(string path)
    {
        var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 1);
        MemoryMappedFile? map = null;
        MemoryMappedViewAccessor? view = null;
        try
        {
            SafeTensorsHeader.Parsed header = SafeTensorsHeader.Read(stream, path);
            map = MemoryMappedFile.CreateFromFile(stream, mapName: null, capacity: 0, MemoryMappedFileAccess.Read,
                HandleInheritability.None, leaveOpen: false);
            view = map.CreateViewAccessor(0, 0, MemoryMappedFileAccess.Read);
            return new SafeTensorsFile(path, header, map, view);
        }
        catch
        {
            view?.Dispose();
            if (map is not null) map.Dispose();
            else stream.Dispose();
            throw;
        }
    }

    /// <summary>Reads and validates only the header of <paramref name="path"/>; no mapping is made.</summary>
    /// <exception cref="TesseraFormatException">The file is not a valid safetensors file.</exception>
    public static IReadOnlyList<SafeTensorInfo> ReadHeader(string path)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 1);
        return SafeTensorsHeader.Read(stream, path).Tensors;
    }

    /// <summary>A zero-copy view of the bytes of tensor <paramref name="name"/> (little-endian, row-major).</summary>
    /// <exception cref="KeyNotFoundException">The file has no such tensor.</exception>
    /// <exception cref="NotSupportedException">The tensor is larger than a span can address (2 GB); use <see cref="GetSpan(string, long, int)"/>.</exception>
    /// <exception cref="ObjectDisposedException">The file was disposed.</exception>
    public ReadOnlySpan<byte> GetSpan(string name)
    {
        SafeTensorInfo info = this[name];
        if (info.ByteLength > int.MaxValue)
            throw new NotSupportedException($"{FilePath}: tensor '{name}' is {info.ByteLength} bytes, more than one span can hold; read it in pieces with GetSpan(name, offset, length)");
        return GetSpan(name, 0, (int)info.ByteLength);
    }

    /// <summary>A zero-copy view of <paramref name="length"/> bytes of tensor <paramref name="name"/> starting at <paramref name="offset"/> within it.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The range is not inside the tensor.</exception>
    /// <exception cref="KeyNotFoundException">The file has no such tensor.</exception>
    /// <exception cref="ObjectDisposedException">The file was disposed.</exception>
    public ReadOnlySpan<byte> GetSpan(string name, long offset, int length)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        SafeTensorInfo info = this[name];
        if (offset < 0 || length < 0 || offset > info.ByteLength - length)
            throw new ArgumentOutOfRangeException(nameof(offset), $"bytes {offset}..{offset + length} are not inside tensor '{name}' ({info.ByteLength} bytes)");
        return new ReadOnlySpan<byte>(_data + info.DataOffset + offset, length);
    }

    /// <summary>Copies the bytes of tensor <paramref name="name"/> into <paramref name="destination"/>.</summary>
    /// <exception cref="ArgumentException"><paramref name="destination"/> is not exactly the tensor's byte length.</exception>
    /// <exception cref="KeyNotFoundException">The file has no such tensor.</exception>
    /// <exception cref="ObjectDisposedException">The file was disposed.</exception>
    public void CopyTo(string name, Span<byte> destination)
    {
        SafeTensorInfo info = this[name];
        if (destination.Length != info.ByteLength)
            throw new ArgumentException($"tensor '{name}' is {info.ByteLength} bytes; destination is {destination.Length}", nameof(destination));
        GetSpan(name, 0, destination.Length).CopyTo(destination);
    }

    /// <summary>Unmaps the file and closes it.</summary>
    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        _view.SafeMemoryMappedViewHandle.ReleasePointer();
        _view.Dispose();
        _map.Dispose();
    }
}
