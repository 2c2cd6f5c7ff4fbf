namespace Tessera.Export;

/// <summary>What an <see cref="IModelFolderExporter"/> wrote.</summary>
/// <param name="ModelPath">The .onnx file.</param>
/// <param name="ExternalDataPath">Its external-data file, or null when the weights are inside it.</param>
/// <param name="Summary">Lines for a person: graph shape, files copied, measured difference from TorchSharp.</param>
public sealed record ModelExportResult(string ModelPath, string? ExternalDataPath, IReadOnlyList<string> Summary);
