using Tessera.Formats;
using Tessera.Export;
using Tessera.Models;
using Tessera.Runtime;

namespace Tessera.Cli;

/// <summary>How the ONNX commands tell model folders, ONNX folders and .onnx files apart, and where they write.</summary>
static class OnnxPaths
{
    /// <summary>True for a TorchSharp model folder: a directory holding <c>model.safetensors</c>.</summary>
    public static bool IsWeightsFolder(string path) =>
        Directory.Exists(path) && File.Exists(Path.Combine(path, ModelFolder.WeightsFile));

    /// <summary>
    /// True for what <see cref="OnnxModel.Load"/> should take: an existing file (a non-ONNX one gets OnnxModel's own
    /// error), a missing path ending in <c>.onnx</c>, or a directory holding <c>model.onnx</c> (at its root or in
    /// <c>onnx/</c>) and no weights.
    /// </summary>
    public static bool IsOnnx(string path) =>
        Directory.Exists(path) ? !IsWeightsFolder(path) && OnnxModel.FindModelFile(path) is not null
            : File.Exists(path) || path.EndsWith(".onnx", StringComparison.OrdinalIgnoreCase);

    /// <summary>The .onnx file of an ONNX folder (<c>model.onnx</c>, else <c>onnx/model.onnx</c>), or the path itself.</summary>
    public static string ModelFile(string pathOrFolder) =>
        Directory.Exists(pathOrFolder) ? OnnxModel.FindModelFile(pathOrFolder) ?? Path.Combine(pathOrFolder, OnnxModel.ModelFileName) : pathOrFolder;

    /// <summary>True when <paramref name="pathOrFolder"/> is a folder whose graph is <c>onnx/model.onnx</c> (the transformers.js layout).</summary>
    public static bool IsNestedLayout(string pathOrFolder) =>
        Directory.Exists(pathOrFolder) && !File.Exists(Path.Combine(pathOrFolder, OnnxModel.ModelFileName))
            && File.Exists(Path.Combine(pathOrFolder, OnnxModel.GraphSubfolder, OnnxModel.ModelFileName));

    /// <summary>Where to write for <c>--out</c>; see <see cref="OnnxOutput.Resolve"/>.</summary>
    public static (string File, string? Folder) Output(string output) => OnnxOutput.Resolve(output);

    /// <summary>Copies <c>config.json</c> and <c>preprocessor_config.json</c>; see <see cref="OnnxOutput.CopyFolderFiles"/>.</summary>
    public static void CopyFolderFiles(string fromFolder, string toFolder) => OnnxOutput.CopyFolderFiles(fromFolder, toFolder);

    /// <summary>
    /// Copies every file of an ONNX folder except the graphs themselves (<c>*.onnx</c>, their external data, <c>*.ort</c>)
    /// into <paramref name="toFolder"/>: config, generation config, tokenizer and card travel with a quantized copy, so
    /// the copy is used exactly like the original.
    /// </summary>
    public static void CopyCompanionFiles(string fromFolder, string toFolder)
    {
        if (Path.GetFullPath(fromFolder).TrimEnd('/') == Path.GetFullPath(toFolder).TrimEnd('/')) return;
        foreach (string source in Directory.EnumerateFiles(fromFolder))
        {
            string name = Path.GetFileName(source);
            if (name.EndsWith(".onnx", StringComparison.OrdinalIgnoreCase) || name.EndsWith(".ort", StringComparison.OrdinalIgnoreCase)
                || name.Contains(".onnx.", StringComparison.OrdinalIgnoreCase) || name.EndsWith(".onnx_data", StringComparison.OrdinalIgnoreCase))
                continue;
            AtomicFile.Write(Path.Combine(toFolder, name), stream =>
            {
                using var from = File.OpenRead(source);
                from.CopyTo(stream);
            });
        }
    }

    /// <summary>Bytes as text; see <see cref="OnnxOutput.Size"/>.</summary>
    public static string Size(long bytes) => OnnxOutput.Size(bytes);
}
