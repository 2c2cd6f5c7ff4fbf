namespace Tessera.Runtime.Quantization;

/// <summary>
/// Symmetric per-output-channel int8 quantization of a weight matrix:
/// scale[n] = max_k |w[k, n]| / 127, zero point 0, q = clamp(round_half_even(w / scale), -127, 127).
/// </summary>
/// <remarks>-128 is never produced, so the range is symmetric and q * scale never overshoots max |w|.</remarks>
internal static class Int8WeightQuantizer
{
    /// <summary>
    /// Quantizes a [K, N] matrix (or, with <paramref name="transposed"/>, an [N, K] one, as Gemm's transB=1 stores it)
    /// into an int8 [K, N] matrix with one scale per output column n.
    /// </summary>
    public static (sbyte[] Values, float[] Scales) Quantize(ReadOnlySpan<float> w, int k, int n, bool transposed)
    {
        if (w.Length != (long)k * n) throw new ArgumentException($"{w.Length} values do not make a {k}x{n} matrix", nameof(w));
        var maxAbs = new float[n];
        for (int i = 0; i < w.Length; i++)
        {
            int column = transposed ? i / k : i % n;
            float a = MathF.Abs(w[i]);
            if (!float.IsFinite(a)) throw new ArgumentException($"weight value {w[i]} is not finite", nameof(w));
            if (a > maxAbs[column]) maxAbs[column] = a;
        }
        var scales = new float[n];
        for (int j = 0; j < n; j++)
        {
            // An all-zero column quantizes to zeros with any scale; 1 keeps the scale finite and non-zero.
            scales[j] = maxAbs[j] > 0 ? maxAbs[j] / 127f : 1f;
        }
        var q = new sbyte[w.Length];
        for (int row = 0; row < k; row++)
            for (int col = 0; col < n; col++)
            {
                float v = transposed ? w[col * k + row] : w[row * n + col];
                float r = MathF.Round(v / scales[col], MidpointRounding.ToEven);
                q[row * n + col] = (sbyte)Math.Clamp(r, -127f, 127f);
            }
        return (q, scales);
    }
}
