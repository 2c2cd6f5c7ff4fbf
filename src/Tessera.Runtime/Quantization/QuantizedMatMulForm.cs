namespace Tessera.Runtime.Quantization;

/// <summary>The operators a dynamically quantized MatMul/Gemm is rewritten to.</summary>
public enum QuantizedMatMulForm
{
    /// <summary>
    /// ONNX Runtime's fused contrib operator <c>com.microsoft.DynamicQuantizeMatMul</c>: one node that quantizes the
    /// activation to uint8, multiplies with the int8 weight and rescales to float (bias included). Runs only on ONNX
    /// Runtime; <c>onnx.checker</c> cannot check contrib operators.
    /// </summary>
    DynamicQuantizeMatMul,

    /// <summary>
    /// Standard ONNX operators only: <c>DynamicQuantizeLinear</c> (activation to uint8) -> <c>MatMulInteger</c>
    /// (uint8 x int8 -> int32) -> <c>Cast</c> -> <c>Mul</c> by activation scale x per-channel weight scale (-> <c>Add</c> bias).
    /// Portable to any runtime that implements opset 10 integer operators.
    /// </summary>
    MatMulInteger,

    /// <summary>
    /// Quantize-dequantize form with standard operators: <c>DynamicQuantizeLinear</c> -> <c>DequantizeLinear</c> on the
    /// activation, <c>DequantizeLinear</c> (per-axis) on the int8 weight, then the original float <c>MatMul</c>.
    /// Runtimes fuse the pattern into an integer kernel; needs opset 13.
    /// </summary>
    Qdq,

    /// <summary>
    /// ONNX Runtime's contrib operator <c>com.microsoft.MatMulNBits</c> with 8-bit weights: one scale per block of
    /// <see cref="DynamicQuantizationOptions.BlockSize"/> weights along K (finer than per channel), the activation
    /// quantized to int8 per block inside the kernel (accuracy level 4). The layout ONNX Runtime's LLM decoding path
    /// uses; the fastest form for one token at a time. Runs only on ONNX Runtime 1.22 or later.
    /// </summary>
    MatMulNBits,
}
