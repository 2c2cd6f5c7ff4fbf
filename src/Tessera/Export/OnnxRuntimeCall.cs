using Tessera.Runtime;

namespace Tessera.Export;

/// <summary>Export verification's use of ONNX Runtime, through Tessera.Runtime: its failures become <see cref="OnnxExportException"/>s.</summary>
internal static class OnnxRuntimeCall
{
    /// <summary>Loads <paramref name="modelPath"/> with the default session options.</summary>
    /// <exception cref="OnnxExportException">ONNX Runtime rejects the file.</exception>
    public static OnnxModel Load(string modelPath, string what)
    {
        try
        {
            return OnnxModel.Load(modelPath);
        }
        catch (TesseraRuntimeException e)
        {
            throw new OnnxExportException($"ONNX Runtime rejected the {what}: {e.Message}", null, e);
        }
    }

    /// <summary>Runs <paramref name="model"/> on <paramref name="inputs"/> and returns every output.</summary>
    /// <exception cref="OnnxExportException">The inputs do not fit the graph, or ONNX Runtime fails while running it.</exception>
    public static IReadOnlyDictionary<string, NamedTensor> Run(OnnxModel model, IReadOnlyDictionary<string, NamedTensor> inputs, string what)
    {
        try
        {
            return model.Run(inputs);
        }
        catch (Exception e) when (e is TesseraRuntimeException or ArgumentException)
        {
            throw new OnnxExportException($"ONNX Runtime failed on the {what}: {e.Message}", null, e);
        }
    }
}
