using System.Globalization;

namespace Tessera.Runtime.Tests;

public class ImageResizeTests
{
    [Fact]
    public void Same_size_resize_is_identity()
    {
        float[] src = Enumerable.Range(0, 2 * 3 * 5).Select(i => (float)i).ToArray();
        var dst = new float[src.Length];
        ImageResize.Bilinear(src, 2, 3, 5, dst, 3, 5);
        Assert.Equal(src, dst);
    }

    [Fact]
    public void Downscale_by_two_averages_each_two_by_two_block()
    {
        // Half-pixel centers: output pixel (0,0) samples at (0.5, 0.5) of the input, the mean of the 2x2 block.
        float[] src = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16];
        var dst = new float[4];
        ImageResize.Bilinear(src, 1, 4, 4, dst, 2, 2);
        Assert.Equal([3.5f, 5.5f, 11.5f, 13.5f], dst);
    }

    [Trait("Category", "Slow")]
    [Fact]
    public void Resize_matches_torch_interpolate_bilinear()
    {
        Requires.Python("torch");
        var rng = new Random(3);
        var cases = new[] { (c: 3, h: 7, w: 5, oh: 4, ow: 9), (c: 1, h: 28, w: 28, oh: 4, ow: 4), (c: 2, h: 3, w: 3, oh: 8, ow: 6) };
        foreach (var (c, h, w, oh, ow) in cases)
        {
            float[] src = Enumerable.Range(0, c * h * w).Select(_ => (float)rng.NextDouble()).ToArray();
            string script = Path.Combine(TestModels.TempDir(), "resize.py");
            File.WriteAllText(script, $$"""
                import sys, torch
                import torch.nn.functional as F
                x = torch.tensor([float(v) for v in sys.argv[1].split(',')]).reshape(1, {{c}}, {{h}}, {{w}})
                y = F.interpolate(x, size=({{oh}}, {{ow}}), mode='bilinear', align_corners=False)
                print(','.join(repr(float(v)) for v in y.flatten()))
                """);
            string? output = TestModels.RunPython(script, out string error, string.Join(",", src.Select(v => v.ToString("R", CultureInfo.InvariantCulture))));
            Assert.True(output is not null, error);
            float[] expected = output!.Trim().Split(',').Select(s => float.Parse(s, CultureInfo.InvariantCulture)).ToArray();
            var dst = new float[c * oh * ow];
            ImageResize.Bilinear(src, c, h, w, dst, oh, ow);
            AssertClose.Equal(expected, dst, 1e-6f, 1e-5f);
        }
    }
}
