namespace Tessera.Diffusion.Pipelines;

/// <summary>
/// Generated samples, <c>[count, channels, height, width]</c> flattened, in the model's range (diffusers' pipelines
/// map <c>[-1, 1]</c> to pixels with <c>x / 2 + 0.5</c>, clamped).
/// </summary>
/// <param name="Samples">The raw model-space values.</param>
/// <param name="Count">Number of images.</param>
/// <param name="Channels">Channels per image (1 grayscale, 3 RGB, 4 RGBA).</param>
/// <param name="Height">Image height.</param>
/// <param name="Width">Image width.</param>
public sealed record DiffusionOutput(float[] Samples, int Count, int Channels, int Height, int Width)
{
    /// <summary>Image <paramref name="index"/>'s values, <c>[channels, height, width]</c>.</summary>
    public ReadOnlySpan<float> Image(int index)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(index);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(index, Count);
        int per = Channels * Height * Width;
        return Samples.AsSpan(index * per, per);
    }

    /// <summary>Image <paramref name="index"/> as 8-bit pixels, row-major, channels interleaved (<c>round(clamp(x / 2 + 0.5) * 255)</c>).</summary>
    public byte[] Pixels(int index)
    {
        ReadOnlySpan<float> image = Image(index);
        int plane = Height * Width;
        var pixels = new byte[Channels * plane];
        for (int ch = 0; ch < Channels; ch++)
            for (int p = 0; p < plane; p++)
                pixels[p * Channels + ch] = ToByte(image[ch * plane + p]);
        return pixels;
    }

    static byte ToByte(float x) => (byte)Math.Round(Math.Clamp(x / 2f + 0.5f, 0f, 1f) * 255f);

    /// <summary>Writes image <paramref name="index"/> as a PNG file.</summary>
    /// <exception cref="NotSupportedException">The channel count is not 1, 2, 3 or 4.</exception>
    public void SavePng(int index, string path) => PngEncoder.Write(path, Pixels(index), Width, Height, Channels);

    /// <summary>Writes every image as <c>{index}.png</c> into <paramref name="folder"/> (created) and returns the paths.</summary>
    public IReadOnlyList<string> SavePngs(string folder)
    {
        Directory.CreateDirectory(folder);
        var paths = new List<string>();
        for (int i = 0; i < Count; i++)
        {
            string path = Path.Combine(folder, $"{i}.png");
            SavePng(i, path);
            paths.Add(path);
        }
        return paths;
    }

    /// <summary>Writes all images as one PNG grid (<paramref name="columns"/> per row; about square when null), with a 2-pixel black border between them.</summary>
    public void SaveGrid(string path, int? columns = null)
    {
        int cols = Math.Clamp(columns ?? (int)Math.Ceiling(Math.Sqrt(Count)), 1, Count);
        int rows = (Count + cols - 1) / cols;
        const int pad = 2;
        int gw = cols * Width + (cols + 1) * pad, gh = rows * Height + (rows + 1) * pad;
        var grid = new byte[gw * gh * Channels];
        for (int i = 0; i < Count; i++)
        {
            byte[] pixels = Pixels(i);
            int x0 = pad + (i % cols) * (Width + pad), y0 = pad + (i / cols) * (Height + pad);
            for (int y = 0; y < Height; y++)
                pixels.AsSpan(y * Width * Channels, Width * Channels).CopyTo(grid.AsSpan(((y0 + y) * gw + x0) * Channels));
        }
        PngEncoder.Write(path, grid, gw, gh, Channels);
    }
}
