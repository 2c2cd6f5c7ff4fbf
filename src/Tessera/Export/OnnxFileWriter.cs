using Google.Protobuf;
using Tessera.Formats.Onnx;

namespace Tessera.Export;

/// <summary>
/// Writes a model (and optionally its external data file) into a temporary folder beside the destination, lets a
/// check run on the temporary files, and only then moves them into place: a failed export or check never leaves a
/// half-written or unchecked <c>.onnx</c>, and an existing file stays as it was.
/// </summary>
internal static class OnnxFileWriter
{
    const int Alignment = 64;

    /// <summary>Writes <paramref name="model"/> to <paramref name="path"/>, running <paramref name="check"/> on the temporary model file first.</summary>
    /// <returns>The full path of the external data file, or null.</returns>
    public static string? Write(ModelProto model, string path, bool externalData, Action<string> check)
    {
        string full = Path.GetFullPath(path);
        string dir = Path.GetDirectoryName(full)!;
        string name = Path.GetFileName(full);
        Directory.CreateDirectory(dir);
        string temp = Path.Combine(dir, $".{name}.{Environment.ProcessId}.{Guid.NewGuid():N}.tmp");
        Directory.CreateDirectory(temp);
        try
        {
            string dataName = name + ".data";
            if (externalData) MoveToExternal(model, Path.Combine(temp, dataName), dataName);
            string tempModel = Path.Combine(temp, name);
            using (var stream = new FileStream(tempModel, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 20))
            {
                model.WriteTo(stream);
                stream.Flush(flushToDisk: true);
            }
            check(tempModel);
            string? finalData = null;
            if (externalData)
            {
                finalData = Path.Combine(dir, dataName);
                File.Move(Path.Combine(temp, dataName), finalData, overwrite: true);
            }
            File.Move(tempModel, full, overwrite: true);
            return finalData;
        }
        finally
        {
            try { Directory.Delete(temp, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
        }
    }

    /// <summary>
    /// Moves the raw_data of every initializer of at least <see cref="OnnxExternalData.InlineBelowBytes"/> into
    /// <paramref name="dataPath"/> (64-byte aligned) and points the initializer at it. Smaller ones (shape constants,
    /// scalars, biases) stay inline: ONNX Runtime reads shape inputs during shape inference, before external data.
    /// </summary>
    static void MoveToExternal(ModelProto model, string dataPath, string location)
    {
        using var data = new FileStream(dataPath, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 20);
        Span<byte> zeros = stackalloc byte[Alignment];
        foreach (var tensor in model.Graph.Initializer)
        {
            if (tensor.RawData.Length < OnnxExternalData.InlineBelowBytes) continue;
            long pad = (Alignment - data.Position % Alignment) % Alignment;
            data.Write(zeros[..(int)pad]);
            long offset = data.Position;
            tensor.RawData.WriteTo(data);
            tensor.ExternalData.Add(new StringStringEntryProto { Key = "location", Value = location });
            tensor.ExternalData.Add(new StringStringEntryProto { Key = "offset", Value = offset.ToString(System.Globalization.CultureInfo.InvariantCulture) });
            tensor.ExternalData.Add(new StringStringEntryProto { Key = "length", Value = tensor.RawData.Length.ToString(System.Globalization.CultureInfo.InvariantCulture) });
            tensor.DataLocation = TensorProto.Types.DataLocation.External;
            tensor.RawData = ByteString.Empty;
        }
        data.Flush(flushToDisk: true);
    }
}
