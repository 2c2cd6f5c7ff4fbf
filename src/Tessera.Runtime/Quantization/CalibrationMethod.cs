namespace Tessera.Runtime.Quantization;

/// <summary>How static quantization turns the activations seen during calibration into a quantization range.</summary>
public enum CalibrationMethod
{
    /// <summary>The smallest and largest value seen (no clipping; outliers widen the step).</summary>
    MinMax,
    /// <summary>The range whose 8-bit histogram keeps the most information: the clipping threshold with the least KL divergence to the float histogram (TensorRT's method).</summary>
    Entropy,
    /// <summary>Clips at a percentile of |x| (<see cref="StaticQuantizationOptions.Percentile"/>), dropping rare outliers.</summary>
    Percentile,
}
