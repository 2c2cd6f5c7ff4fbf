using System.Globalization;
using Tessera.Transformers;

namespace Tessera.Export.Decoders;

/// <summary>
/// Exporter of causal LM folders (gpt2, llama, qwen2, mistral): <see cref="DecoderOnnxExporter"/> into the folder
/// <c>output</c> (the model folder by default) in the transformers.js layout: <c>onnx/model.onnx</c>, with config,
/// generation and tokenizer files at the root (and in <c>onnx/</c>).
/// </summary>
public sealed class DecoderFolderExporter : IModelFolderExporter
{
    /// <summary>The exporter (it holds no state).</summary>
    public static DecoderFolderExporter Instance { get; } = new();

    /// <inheritdoc/>
    public ModelExportResult Export(string modelFolder, string? output, ModelExportOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        string root = TransformerExportFiles.OutputFolder(modelFolder, output);
        using var model = AutoModelForCausalLM.FromPretrained(modelFolder);
        var report = DecoderOnnxExporter.Export(model, TransformerExportFiles.GraphFolder(root), new TransformerExportOptions
        {
            SourceFolder = modelFolder, Opset = options.Opset, Verify = options.Verify, OrtFusedAttention = options.OrtFusedAttention,
        });
        TransformerExportFiles.CopyToRoot(model.PretrainedConfig, modelFolder, root);
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
