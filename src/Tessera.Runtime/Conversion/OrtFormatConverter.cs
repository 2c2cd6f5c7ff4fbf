using Microsoft.ML.OnnxRuntime;
using Tessera.Formats;
using Tessera.Formats.Onnx;
using Tessera.Runtime.Quantization;

namespace Tessera.Runtime.Conversion;

/// <summary>
/// Converts an ONNX model to ONNX Runtime's ORT format (<c>.ort</c>, the flatbuffer file that minimal and mobile
/// builds of ONNX Runtime load) through ONNX Runtime itself: a session optimizes the graph at
/// <see cref="GraphOptimizationLevel.Extended"/> and saves it (<c>optimized_model_filepath</c> with
/// <c>session.save_model_format=ORT</c>). Also lists the operators the optimized graph uses, in the
/// <c>required_operators.config</c> format that ONNX Runtime's reduced-operator builds read.
/// </summary>
public static class OrtFormatConverter
{
    /// <summary>The optimization level the .ort file is saved at.</summary>
    // Why not All: level All adds layout optimizations for the CPU doing the conversion (NCHWc convolutions with the
    // block size of this CPU's vector width, in the com.microsoft.nchwc domain, plus their reorder nodes). A file
    // saved with them is tied to that CPU family and to a build that has those kernels, which defeats a portable
    // file for phones and minimal builds; Extended keeps the fusions every CPU build has (FusedConv, FusedGemm,
    // LayerNormalization, GELU, attention) and ONNX Runtime can still apply the layout step at load time.
    public const GraphOptimizationLevel Level = GraphOptimizationLevel.Extended;

    /// <summary>
    /// Writes <paramref name="outputPath"/> (ORT format) from the ONNX model at <paramref name="inputPath"/>, atomically
    /// (nothing is written on error), and returns the operators the optimized graph uses.
    /// </summary>
    /// <exception cref="FileNotFoundException">The input file does not exist.</exception>
    /// <exception cref="TesseraFormatException">The input is not an ONNX model (for example an .ort file already).</exception>
    /// <exception cref="OnnxModelException">ONNX Runtime cannot load or optimize the model.</exception>
    public static RequiredOperators Convert(string inputPath, string outputPath)
    {
        ArgumentException.ThrowIfNullOrEmpty(inputPath);
        ArgumentException.ThrowIfNullOrEmpty(outputPath);
        OnnxModelFile.Load(inputPath); // a clear error for a non-ONNX input before ONNX Runtime's
        string full = Path.GetFullPath(outputPath);
        Directory.CreateDirectory(Path.GetDirectoryName(full)!);
        string temp = full + $".{Environment.ProcessId}.{Guid.NewGuid():N}.tmp";
        string onnxTwin = temp + ".onnx";
        try
        {
            SaveOptimized(inputPath, temp, ortFormat: true);
            // The same optimization again, saved as ONNX, is the graph whose operators the .ort file holds; ONNX
            // Runtime's C# API has no reader for the flatbuffer, and the ONNX twin is read with our own protobuf.
            SaveOptimized(inputPath, onnxTwin, ortFormat: false);
            var operators = RequiredOperators.FromModel(onnxTwin, full);
            File.Move(temp, full, overwrite: true);
            return operators;
        }
        finally
        {
            if (File.Exists(temp)) File.Delete(temp);
            if (File.Exists(onnxTwin)) File.Delete(onnxTwin);
        }
    }

    /// <summary>Opens <paramref name="inputPath"/> in ONNX Runtime at <see cref="Level"/> and saves the optimized graph to <paramref name="outputPath"/>.</summary>
    internal static void SaveOptimized(string inputPath, string outputPath, bool ortFormat, GraphOptimizationLevel level = Level)
    {
        using var so = OrtConversions.ToSessionOptions(new OnnxSessionOptions { GraphOptimizationLevel = level, IntraOpThreads = 1 });
        so.OptimizedModelFilePath = outputPath;
        if (ortFormat) so.AddSessionConfigEntry("session.save_model_format", "ORT");
        try
        {
            using var session = new InferenceSession(inputPath, so);
        }
        catch (OnnxRuntimeException e)
        {
            throw new OnnxModelException(inputPath, $"ONNX Runtime cannot load the model to optimize it: {e.Message}", e);
        }
        if (!File.Exists(outputPath))
            throw new OnnxModelException(inputPath, $"ONNX Runtime did not write the optimized model to {outputPath}");
    }

    /// <summary>Opens an .ort file with <c>session.load_model_format=ORT</c> (and no further optimization).</summary>
    /// <exception cref="OnnxModelException">ONNX Runtime cannot load the file as ORT format.</exception>
    public static InferenceSession OpenOrt(string path, OnnxSessionOptions? options = null)
    {
        using var so = OrtConversions.ToSessionOptions(options ?? new OnnxSessionOptions());
        so.AddSessionConfigEntry("session.load_model_format", "ORT");
        try { return new InferenceSession(path, so); }
        catch (OnnxRuntimeException e) { throw new OnnxModelException(path, $"not a loadable ORT-format model: {e.Message}", e); }
    }
}
