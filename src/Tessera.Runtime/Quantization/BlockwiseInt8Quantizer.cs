namespace Tessera.Runtime.Quantization;

/// <summary>
/// Symmetric int8 quantization in blocks along K, laid out for ONNX Runtime's <c>MatMulNBits</c> with bits = 8: for
/// each output column n and block b of <c>blockSize</c> rows, scale = max |w| / 127 over the block,
/// q = clamp(round_half_even(w / scale), -127, 127), stored as the unsigned code q + 128 (the operator's default zero
/// point for 8 bits). B is [N, blocks, blockSize] (rows past K padded with the zero code 128), scales are [N, blocks].
/// </summary>
internal static class BlockwiseInt8Quantizer
{
    /// <summary>The code that dequantizes to 0.</summary>
    public const byte ZeroPoint = 128;

    /// <summary>Quantizes a [K, N] matrix (or, with <paramref name="transposed"/>, an [N, K] one).</summary>
    public static (byte[] Codes, float[] Scales) Quantize(ReadOnlySpan<float> w, int k, int n, bool transposed, int blockSize)
    {
        if (w.Length != (long)k * n) throw new ArgumentException($"{w.Length} values do not make a {k}x{n} matrix", nameof(w));
        if (blockSize < 16 || (blockSize & (blockSize - 1)) != 0) throw new ArgumentException($"block size {blockSize} is not a power of two >= 16", nameof(blockSize));
        int blocks = (k + blockSize - 1) / blockSize;
        var codes = new byte[(long)n * blocks * blockSize];
        var scales = new float[(long)n * blocks];
        Array.Fill(codes, ZeroPoint);
        for (int col = 0; col < n; col++)
            for (int b = 0; b < blocks; b++)
            {
                int start = b * blockSize, end = Math.Min(k, start + blockSize);
                float maxAbs = 0;
                for (int row = start; row < end; row++)
                {
                    float a = MathF.Abs(At(w, row, col, k, n, transposed));
                    if (!float.IsFinite(a)) throw new ArgumentException($"weight value {At(w, row, col, k, n, transposed)} is not finite", nameof(w));
                    maxAbs = Math.Max(maxAbs, a);
                }
                // An all-zero block quantizes to zeros with any scale; 1 keeps the scale finite and non-zero.
                float scale = maxAbs > 0 ? maxAbs / 127f : 1f;
                scales[col * blocks + b] = scale;
                long offset = ((long)col * blocks + b) * blockSize;
                for (int row = start; row < end; row++)
                {
                    float r = MathF.Round(At(w, row, col, k, n, transposed) / scale, MidpointRounding.ToEven);
                    codes[offset + row - start] = (byte)(Math.Clamp(r, -127f, 127f) + ZeroPoint);
                }
            }
        return (codes, scales);
    }

    static float At(ReadOnlySpan<float> w, int row, int col, int k, int n, bool transposed) => transposed ? w[col * k + row] : w[row * n + col];
}
