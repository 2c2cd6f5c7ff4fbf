using Tessera.Transformers;

namespace Tessera.Export;

/// <summary>The Hugging Face files (config, generation config, tokenizer) that travel with an exported transformer.</summary>
internal static class TransformerExportFiles
{
    public static IReadOnlyList<string> Names { get; } =
        ["config.json", "generation_config.json", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.json", "merges.txt", "vocab.txt", "tokenizer.model"];

    /// <summary>Where the graph of an export rooted at <paramref name="root"/> goes: <c>&lt;root&gt;/onnx</c>.</summary>
    public static string GraphFolder(string root) => Path.Combine(root, "onnx");

    /// <summary>Puts the files of <paramref name="modelFolder"/> that travel with the graph at the export's root (nothing to do when the root is the model folder).</summary>
    public static void CopyToRoot(PretrainedConfig config, string modelFolder, string root)
    {
        Directory.CreateDirectory(root);
        Copy(config, root, modelFolder);
    }

    /// <summary>Copies the files <paramref name="source"/> has into <paramref name="outputDir"/>; writes config.json from <paramref name="config"/> when none was copied.</summary>
    public static List<string> Copy(PretrainedConfig config, string outputDir, string? source)
    {
        var copied = new List<string>();
        if (source is not null)
            foreach (string name in Names)
            {
                string from = Path.Combine(source, name);
                if (!File.Exists(from)) continue;
                string to = Path.Combine(outputDir, name);
                if (Path.GetFullPath(from) != Path.GetFullPath(to)) File.Copy(from, to, overwrite: true);
                copied.Add(name);
            }
        if (!copied.Contains("config.json"))
        {
            config.Save(Path.Combine(outputDir, "config.json"));
            copied.Add("config.json");
        }
        return copied;
    }

    /// <summary>
    /// The root folder of a transformer export: <paramref name="output"/>, or the model folder itself. Either way the export
    /// has the transformers.js / Optimum layout: config, generation and tokenizer files at the root (see
    /// <see cref="CopyToRoot"/>), the graph in <see cref="GraphFolder"/> (<c>onnx/model.onnx</c>, with copies of those files
    /// so that <c>onnx/</c> alone is a complete ONNX folder too).
    /// </summary>
    /// <exception cref="ArgumentException"><paramref name="output"/> names a file (ends in .onnx or is an existing file):
    /// a transformer exports to a folder of several files, which must never land beside (or over) files in the parent.</exception>
    public static string OutputFolder(string modelFolder, string? output)
    {
        if (output is null) return modelFolder;
        if (output.EndsWith(".onnx", StringComparison.OrdinalIgnoreCase) || File.Exists(output))
            throw new ArgumentException($"--out {output}: a transformer exports to a folder (model.onnx plus its config, generation and tokenizer files); give a folder, e.g. {Path.ChangeExtension(output, null)}/");
        return output;
    }
}
