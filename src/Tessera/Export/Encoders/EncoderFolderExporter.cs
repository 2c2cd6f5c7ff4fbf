using System.Globalization;
using Tessera.Models;
using Tessera.Transformers;

namespace Tessera.Export.Encoders;

/// <summary>
/// Exporter of BERT folders: the head the config's <c>architectures</c> names (<c>...ForMaskedLM</c>,
/// <c>...ForSequenceClassification</c>, else the bare encoder) through <see cref="EncoderOnnxExporter"/>, into a folder
/// (<c>output</c>, or the model folder by default) in the transformers.js layout: <c>onnx/model.onnx</c>, with config
/// and tokenizer files at the root (and in <c>onnx/</c>).
/// </summary>
public sealed class EncoderFolderExporter : IModelFolderExporter
{
    /// <summary>The exporter (it holds no state).</summary>
    public static EncoderFolderExporter Instance { get; } = new();

    /// <inheritdoc/>
    public ModelExportResult Export(string modelFolder, string? output, ModelExportOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        string root = TransformerExportFiles.OutputFolder(modelFolder, output);
        PretrainedConfig config = AutoConfig.FromPretrained(modelFolder);
        var architectures = config.Architectures ?? [];
        ModelTask<PreTrainedModel> task = architectures.Any(a => a.EndsWith("ForMaskedLM", StringComparison.Ordinal)) ? ModelTasks.MaskedLM
            : architectures.Any(a => a.EndsWith("ForSequenceClassification", StringComparison.Ordinal)) ? ModelTasks.SequenceClassification
            : ModelTasks.BaseModel;
        using PreTrainedModel model = PretrainedModels.FromPretrained(task, modelFolder);
        var report = EncoderOnnxExporter.Export(model, TransformerExportFiles.GraphFolder(root), new TransformerExportOptions { SourceFolder = modelFolder, Opset = options.Opset, Verify = options.Verify });
        TransformerExportFiles.CopyToRoot(config, modelFolder, root);
        return new ModelExportResult(report.ModelPath, report.ExternalDataPath,
        [
            $"wrote {report.ModelPath}{(report.ExternalDataPath is { } d ? $" (+ {d})" : "")}, opset {options.Opset}",
            $"{model.GetType().Name} encoder: outputs {string.Join(", ", report.OutputNames)}; copied {string.Join(", ", report.CopiedFiles)}",
            report.MaxAbs is { } m
                ? string.Create(CultureInfo.InvariantCulture, $"max abs error vs TorchSharp: {m:0.0e+00}")
                : "not verified (--no-verify)",
        ]);
    }
}
