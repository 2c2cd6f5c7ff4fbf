using System.Buffers.Binary;
using System.Text;
using Tessera.Tests.Shared;

namespace Tessera.Formats.Tests.SafeTensors;

/// <summary>Temp directory plus a builder of raw safetensors bytes that follows the spec directly, not our writer.</summary>
public sealed class SafeTensorsTestFiles : IDisposable
{
    readonly TempDirectory _temp = new("tessera-st-");

    public string Dir => _temp.Path;

    public string PathFor(string name) => _temp.File(name);

    /// <summary>8-byte little-endian header length, the header bytes, then the data.</summary>
    public static byte[] Raw(string headerJson, byte[] data, ulong? lengthOverride = null)
    {
        byte[] header = Encoding.UTF8.GetBytes(headerJson);
        var bytes = new byte[8 + header.Length + data.Length];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, lengthOverride ?? (ulong)header.Length);
        header.CopyTo(bytes, 8);
        data.CopyTo(bytes, 8 + header.Length);
        return bytes;
    }

    public string WriteRaw(string name, string headerJson, byte[] data, ulong? lengthOverride = null)
    {
        string path = PathFor(name);
        File.WriteAllBytes(path, Raw(headerJson, data, lengthOverride));
        return path;
    }

    public void Dispose() => _temp.Dispose();
}
