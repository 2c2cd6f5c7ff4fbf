namespace Tessera.Export;

/// <summary>How exports split weights between the <c>.onnx</c> file and its external data file.</summary>
public static class OnnxExternalData
{
    /// <summary>
    /// Initializers smaller than this (1 KiB, the threshold of the <c>onnx</c> package's external-data converter) stay
    /// inside the <c>.onnx</c> file; larger ones go to the data file.
    /// </summary>
    public const int InlineBelowBytes = 1024;
}
