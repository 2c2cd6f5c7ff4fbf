using System.Globalization;
using Tessera.Transformers;

namespace Tessera.Export.Decoders;

/// <summary>
/// Exporter of causal LM folders (gpt2, llama, qwen2, mistral): <see cref="DecoderOnnxExporter"/> into a folder
/// (<c>output</c>, a folder or a path ending in <c>.onnx</c> whose folder is used; <c>&lt;model&gt;/onnx</c> by default).
/// </summary>
public sealed class DecoderFolderExporter : IModelFolderExporter
{
    /// <summary>The exporter (it holds no state).</summary>
    public static DecoderFolderExporter Instance { get; } = new();

    /// <inheritdoc/>
    public ModelExportResult Export(string modelFolder, string? output, ModelExportOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        string outDir = TransformerExportFiles.OutputFolder(modelFolder, output);
        using var model = AutoModelForCausalLM.FromPretrained(modelFolder);
        var report = DecoderOnnxExporter.Export(model, outDir, new TransformerExportOptions
        {
            SourceFolder = modelFolder, Opset = options.Opset, Verify = options.Verify, OrtFusedAttention = options.OrtFusedAttention,
        });
        return new ModelExportResult(report.ModelPath, report.ExternalDataPath,
        [
            $"wrote {report.ModelPath}{(report.ExternalDataPath is { } d ? $" (+ {d})" : "")}, opset {options.Opset}",
            $"decoder with past key/values: {report.NumLayers} layers, {report.KeyValueHeads} kv heads x {report.HeadDim}, vocab {report.VocabSize}; copied {string.Join(", ", report.CopiedFiles)}",
            report.PrefillMaxAbs is { } p && report.DecodeMaxAbs is { } q
                ? string.Create(CultureInfo.InvariantCulture, $"max abs error vs TorchSharp: prefill {p:0.0e+00}, decode step {q:0.0e+00}")
                : "not verified (--no-verify)",
        ]);
    }
}
