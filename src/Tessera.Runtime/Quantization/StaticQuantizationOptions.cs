namespace Tessera.Runtime.Quantization;

/// <summary>How <see cref="StaticQuantizer"/> quantizes a model. Immutable; the defaults suit conv nets on x86 CPUs (u8 activations, s8 weights).</summary>
public sealed record StaticQuantizationOptions
{
    /// <summary>How activation ranges are derived from the calibration data. Default <see cref="CalibrationMethod.MinMax"/>.</summary>
    public CalibrationMethod Method { get; init; } = CalibrationMethod.MinMax;

    /// <summary>Percentile of |x| kept for <see cref="CalibrationMethod.Percentile"/> (default 99.999).</summary>
    public double Percentile { get; init; } = 99.999;

    /// <summary>Names (or op types) of nodes left in float32: sensitive layers such as the first conv or the classifier.</summary>
    public IReadOnlyCollection<string> Exclude { get; init; } = [];

    /// <summary>Images (or rows) of calibration data used for the per-layer error report (default 64).</summary>
    public int ErrorReportSamples { get; init; } = 64;
}
