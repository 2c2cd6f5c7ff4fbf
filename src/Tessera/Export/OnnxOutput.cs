using Tessera.Models;

namespace Tessera.Export;

/// <summary>Where ONNX files go for an <c>--out</c> argument, and the folder files that travel with them.</summary>
public static class OnnxOutput
{
    /// <summary>The file name of an exported model inside a folder.</summary>
    public const string ModelFileName = "model.onnx";

    /// <summary>
    /// Where to write for <paramref name="output"/>: a path ending in a separator or naming an existing directory means
    /// <c>&lt;dir&gt;/model.onnx</c> (the directory is created); anything else is the file itself (its parent is created).
    /// </summary>
    public static (string File, string? Folder) Resolve(string output)
    {
        ArgumentException.ThrowIfNullOrEmpty(output);
        if (Path.EndsInDirectorySeparator(output) || Directory.Exists(output))
        {
            Directory.CreateDirectory(output);
            return (Path.Combine(output, ModelFileName), output);
        }
        string? parent = Path.GetDirectoryName(Path.GetFullPath(output));
        if (parent is not null) Directory.CreateDirectory(parent);
        return (output, null);
    }

    /// <summary>Copies <c>config.json</c> and <c>preprocessor_config.json</c> (those that exist) from one folder to another, so an ONNX folder keeps labels and preprocessing.</summary>
    public static void CopyFolderFiles(string fromFolder, string toFolder)
    {
        if (Path.GetFullPath(fromFolder).TrimEnd('/') == Path.GetFullPath(toFolder).TrimEnd('/')) return;
        foreach (var name in new[] { PretrainedModels.ConfigFile, ModelFolder.PreprocessorFile })
        {
            string source = Path.Combine(fromFolder, name);
            if (File.Exists(source)) File.Copy(source, Path.Combine(toFolder, name), overwrite: true);
        }
    }

    /// <summary>Bytes as text: <c>1.23 MB</c>, <c>456.7 KB</c>.</summary>
    public static string Size(long bytes) => bytes >= 1_000_000 ? $"{bytes / 1e6:0.00} MB" : $"{bytes / 1e3:0.0} KB";
}
