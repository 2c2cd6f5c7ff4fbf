namespace Tessera.Export;

/// <summary>
/// Exports a model folder of one architecture to ONNX; registered per architecture with
/// <see cref="Models.ModelArchitecture{TConfig}.WithExporter"/> and used by <see cref="ModelExport.Export"/>
/// (<c>tessera export</c>).
/// </summary>
public interface IModelFolderExporter
{
    /// <summary>Writes the ONNX model of <paramref name="modelFolder"/> and returns what was written.</summary>
    /// <param name="modelFolder">A model folder (config.json + safetensors weights).</param>
    /// <param name="output">Where to write (a file or a folder, as the exporter documents); its default place when null.</param>
    /// <param name="options">Opset and verification settings.</param>
    /// <exception cref="Formats.TesseraFormatException">The folder is malformed.</exception>
    /// <exception cref="OnnxExportException">The model cannot be exported or does not verify.</exception>
    ModelExportResult Export(string modelFolder, string? output, ModelExportOptions options);
}
