namespace Tessera.Runtime.Quantization;

/// <summary>
/// How far one quantized layer's output is from the float model's, on calibration data: the quantized model runs
/// unfused (QuantizeLinear/DequantizeLinear simulated in float), so the error includes every layer before it.
/// </summary>
/// <param name="Node">The node name (its op type when unnamed).</param>
/// <param name="OpType">Conv, Gemm or MatMul.</param>
/// <param name="Tensor">The output tensor compared.</param>
/// <param name="RelativeError">‖quantized − float‖₂ / ‖float‖₂.</param>
/// <param name="MaxAbsError">Largest |quantized − float|.</param>
public sealed record LayerError(string Node, string OpType, string Tensor, double RelativeError, double MaxAbsError)
{
    /// <summary>Signal-to-quantization-noise ratio in dB (20·log10 of 1 / <see cref="RelativeError"/>).</summary>
    public double SqnrDb => RelativeError > 0 ? -20 * Math.Log10(RelativeError) : double.PositiveInfinity;
}
