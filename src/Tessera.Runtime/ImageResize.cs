namespace Tessera.Runtime;

/// <summary>
/// Bilinear resize of CHW float images with half-pixel centers and edge clamping, the same sampling as PyTorch's
/// <c>F.interpolate(mode="bilinear", align_corners=False, antialias=False)</c>.
/// </summary>
internal static class ImageResize
{
    public static void Bilinear(ReadOnlySpan<float> source, int channels, int inHeight, int inWidth, Span<float> destination, int outHeight, int outWidth)
    {
        int inPlane = inHeight * inWidth, outPlane = outHeight * outWidth;
        if (source.Length != channels * inPlane || destination.Length != channels * outPlane)
            throw new ArgumentException("Image buffers do not match the given sizes.");
        float scaleY = (float)inHeight / outHeight, scaleX = (float)inWidth / outWidth;
        Span<int> x0 = outWidth <= 1024 ? stackalloc int[outWidth] : new int[outWidth];
        Span<int> x1 = outWidth <= 1024 ? stackalloc int[outWidth] : new int[outWidth];
        Span<float> lx = outWidth <= 1024 ? stackalloc float[outWidth] : new float[outWidth];
        for (int x = 0; x < outWidth; x++) Source(x, scaleX, inWidth, out x0[x], out x1[x], out lx[x]);
        for (int c = 0; c < channels; c++)
        {
            var src = source.Slice(c * inPlane, inPlane);
            var dst = destination.Slice(c * outPlane, outPlane);
            for (int y = 0; y < outHeight; y++)
            {
                Source(y, scaleY, inHeight, out int y0, out int y1, out float ly);
                var row0 = src.Slice(y0 * inWidth, inWidth);
                var row1 = src.Slice(y1 * inWidth, inWidth);
                for (int x = 0; x < outWidth; x++)
                {
                    float top = row0[x0[x]] + (row0[x1[x]] - row0[x0[x]]) * lx[x];
                    float bottom = row1[x0[x]] + (row1[x1[x]] - row1[x0[x]]) * lx[x];
                    dst[y * outWidth + x] = top + (bottom - top) * ly;
                }
            }
        }
    }

    static void Source(int index, float scale, int inSize, out int i0, out int i1, out float lambda)
    {
        float src = MathF.Max(scale * (index + 0.5f) - 0.5f, 0f);
        i0 = Math.Min((int)src, inSize - 1);
        i1 = Math.Min(i0 + 1, inSize - 1);
        lambda = src - i0;
        if (i0 == inSize - 1) lambda = 0f;
    }
}
