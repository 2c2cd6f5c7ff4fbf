using Google.Protobuf;
using Tessera.Formats;
using Tessera.Formats.Onnx;

namespace Tessera.Runtime.Quantization;

/// <summary>
/// Dynamic int8 quantization of an ONNX model as a graph rewrite: every MatMul and Gemm whose weight (input B) is a
/// float32 initializer gets int8 weights, quantized symmetrically per output channel (scale = max|w| / 127,
/// zero point 0), and its activation is quantized to uint8 at run time, row block by row block, by ONNX Runtime.
/// The rest of the graph stays float.
/// </summary>
public static class DynamicQuantizer
{
    /// <summary>The form <see cref="DynamicQuantizationOptions.Form"/> defaults to (see the measurements in the source).</summary>
    // Why DynamicQuantizeMatMul: with ORT's default optimization level (ORT_ENABLE_ALL, also EXTENDED) all three forms
    // end up as the same fused u8s8 kernel (ORT fuses DynamicQuantizeLinear + MatMulInteger + Cast + Mul, and the QDQ
    // pattern, into DynamicQuantizeMatMul), so they run equally fast. The fused op is the only form that does not
    // depend on those fusions: at ORT_ENABLE_BASIC, MatMulInteger runs ~7% slower and QDQ ~7x slower (it dequantizes
    // and runs the float MatMul), and it has the fewest nodes, so sessions load fastest. MatMulInteger stays the choice
    // for runtimes other than ONNX Runtime (standard operators only; passes onnx.checker full_check).
    // measured (ORT 1.31.1, AMD EPYC with AVX-512 VNNI, 1 intra-op thread, 2 shared cores so +-10% noise; 12 blocks of
    // LayerNorm -> Linear 768->3072 -> GELU -> Linear 3072->768 + residual, input 1x128x768, p50 of 20-30 runs):
    //   ORT_ENABLE_ALL:   fp32 70.9 ms; DynamicQuantizeMatMul 21.4 ms (3.3x); MatMulInteger 21.1 ms; QDQ 21.5 ms
    //   ORT_ENABLE_BASIC: fp32 70.8 ms; DynamicQuantizeMatMul 22.5 ms (3.1x); MatMulInteger 24.2 ms; QDQ 151 ms
    //   file 226.8 MB -> 57.1 MB (0.252x); max |error| vs fp32 1.0% of the output range.
    //   A repeat, round-robin over the four sessions under load average 7 on the 2 cores: p50 fp32 88.1 ms vs int8
    //   27-30 ms (3.0-3.2x), min 71.5 vs 21-22 ms; session load 25 ms (fused) vs 49 ms (MatMulInteger), 606 ms fp32.
    public const QuantizedMatMulForm DefaultForm = QuantizedMatMulForm.DynamicQuantizeMatMul;

    // Operators that only appear in a model that is already quantized (any domain).
    static readonly HashSet<string> QuantizedOperators = new(StringComparer.Ordinal)
    {
        "QuantizeLinear", "DequantizeLinear", "DynamicQuantizeLinear", "MatMulInteger", "ConvInteger",
        "QLinearMatMul", "QLinearConv", "DynamicQuantizeMatMul", "MatMulIntegerToFloat", "QGemm", "QAttention",
        "DynamicQuantizeLSTM", "MatMulNBits", "MatMulBnb4", "QOrderedMatMul", "QuantizeBFP", "DequantizeBFP",
    };

    /// <summary>
    /// Reads the model at <paramref name="inputPath"/>, quantizes its MatMul/Gemm weights to int8 and writes the result
    /// to <paramref name="outputPath"/> atomically (a temporary file renamed over; nothing is written on error).
    /// Tensors the input keeps in external data files are written inline.
    /// </summary>
    /// <returns>The nodes rewritten and skipped, initializer bytes and file sizes before and after.</returns>
    /// <exception cref="FileNotFoundException">The input file does not exist.</exception>
    /// <exception cref="TesseraFormatException">The input is not a readable ONNX model (truncated, wrong sizes, bad external data).</exception>
    /// <exception cref="QuantizationException">
    /// The model is already quantized, has no MatMul/Gemm with a float32 initializer weight, or its opset is too old
    /// for the chosen form.
    /// </exception>
    public static QuantizationReport Quantize(string inputPath, string outputPath, DynamicQuantizationOptions? options = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(inputPath);
        ArgumentException.ThrowIfNullOrEmpty(outputPath);
        options ??= new DynamicQuantizationOptions();

        var (model, inputBytes) = OnnxModelFile.Load(inputPath);
        long before = OnnxModelFile.InitializerBytes(model.Graph);
        EnsureNotQuantized(model, inputPath);
        EnsureOpset(model, options.Form, inputPath);

        var rewriter = new MatMulRewriter(model, options, inputPath);
        rewriter.Run();
        if (rewriter.Quantized.Count == 0)
        {
            string why = rewriter.Skipped.Count == 0
                ? "the model has no MatMul or Gemm node"
                : "no MatMul or Gemm node has a float32 initializer weight that can be quantized: " + string.Join("; ", rewriter.Skipped);
            throw new QuantizationException(inputPath, $"nothing to quantize, no file written ({why})");
        }

        long after = OnnxModelFile.InitializerBytes(model.Graph);
        long size = model.CalculateSize();
        if (size is < 0 or > int.MaxValue)
            throw new QuantizationException(inputPath, "the quantized model is over 2 GB, the protobuf limit; writing external data is not supported yet");
        AtomicFile.Write(outputPath, model.WriteTo);
        return new QuantizationReport
        {
            Form = options.Form,
            QuantizedNodes = rewriter.Quantized,
            SkippedNodes = rewriter.Skipped,
            WeightBytesBefore = before,
            WeightBytesAfter = after,
            InputFileBytes = inputBytes,
            OutputFileBytes = new FileInfo(outputPath).Length,
        };
    }

    /// <summary>Whether the model at <paramref name="path"/> already holds quantized operators (int8 MatMul forms, Q/DQ pairs, QLinear*).</summary>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="TesseraFormatException">The file is not a readable ONNX model.</exception>
    public static bool IsQuantized(string path)
    {
        var (model, _) = OnnxModelFile.Load(path);
        return OnnxModelFile.AllNodes(model.Graph).Any(IsQuantizedNode);
    }

    static bool IsQuantizedNode(NodeProto node) =>
        QuantizedOperators.Contains(node.OpType) || node.OpType.StartsWith("QLinear", StringComparison.Ordinal);

    internal static void EnsureNotQuantized(ModelProto model, string path)
    {
        foreach (var node in OnnxModelFile.AllNodes(model.Graph))
            if (IsQuantizedNode(node))
                throw new QuantizationException(path,
                    $"the model is already quantized (node '{(node.Name.Length > 0 ? node.Name : node.Output.FirstOrDefault())}' is {node.OpType}); quantize the float model instead");
    }

    static void EnsureOpset(ModelProto model, QuantizedMatMulForm form, string path)
    {
        int needed = form switch
        {
            QuantizedMatMulForm.MatMulInteger => 10, // DynamicQuantizeLinear, MatMulInteger
            QuantizedMatMulForm.Qdq => 13, // per-axis DequantizeLinear
            _ => 0,
        };
        long opset = model.OpsetImport.Where(o => o.Domain is "" or "ai.onnx").Select(o => o.Version).DefaultIfEmpty(0).Max();
        if (opset < needed)
            throw new QuantizationException(path, $"the {form} form needs ai.onnx opset {needed} or newer; the model imports opset {opset}");
    }
}
