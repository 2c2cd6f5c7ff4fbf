using Tessera.Formats;
using Tessera.Models;
using Tessera.Transformers;

namespace Tessera.Export;

/// <summary>Exports any registered architecture's model folder to ONNX with the exporter the <see cref="ModelRegistry"/> holds for its <c>model_type</c>.</summary>
public static class ModelExport
{
    /// <summary>Reads the folder's config and runs its architecture's exporter.</summary>
    /// <param name="modelFolder">A model folder (config.json + weights).</param>
    /// <param name="output">Where to write; see the architecture's exporter (<see cref="ImageClassifierExporter"/>, <see cref="Decoders.DecoderFolderExporter"/>, <see cref="Encoders.EncoderFolderExporter"/>).</param>
    /// <param name="options">Defaults when null.</param>
    /// <exception cref="TesseraFormatException">The folder does not exist, has no valid config.json, or its model_type has no exporter.</exception>
    /// <exception cref="OnnxExportException">The export or its verification failed.</exception>
    public static ModelExportResult Export(string modelFolder, string? output = null, ModelExportOptions? options = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(modelFolder);
        if (File.Exists(Path.Combine(modelFolder, Tessera.Diffusion.Pipelines.PipelineFolder.IndexFile)))
            return Diffusion.UNet2DExporter.Instance.Export(modelFolder, output, options ?? new ModelExportOptions());
        PretrainedConfig config = PretrainedModels.ReadConfig(modelFolder);
        IModelFolderExporter exporter = ModelRegistry.Exporter(config.ModelType)
            ?? throw new TesseraFormatException(Path.Combine(modelFolder, PretrainedModels.ConfigFile),
                $"model_type \"{config.ModelType}\" has no ONNX exporter");
        return exporter.Export(modelFolder, output, options ?? new ModelExportOptions());
    }
}
