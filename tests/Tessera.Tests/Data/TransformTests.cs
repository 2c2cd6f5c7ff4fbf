using Tessera.Data;
using Tessera.Data.Transforms;
using Tessera.Tests.Shared;
using TorchSharp;
using static TorchSharp.torch;

namespace Tessera.Tests.Data;

public class TransformTests
{
    private static Tensor Images(long n, long c, long h, long w, int seed = 1) =>
        rand(new long[] { n, c, h, w }, generator: new Generator((ulong)seed));

    [Fact]
    public void Normalize_matches_elementwise_math_per_channel()
    {
        using var scope = NewDisposeScope();
        var x = Images(2, 3, 4, 5);
        float[] mean = [0.1f, 0.5f, -0.2f], std = [0.5f, 2f, 0.25f];
        var y = new Normalize(mean, std).Apply(x, new SeededRandom(0));

        var xs = x.data<float>().ToArray();
        var ys = y.data<float>().ToArray();
        for (int i = 0; i < xs.Length; i++)
        {
            int channel = i / 20 % 3;
            Assert.Equal((xs[i] - mean[channel]) / std[channel], ys[i], 6);
        }
        Assert.False(x.IsInvalid);
        Assert.Throws<ArgumentException>(() => new Normalize(mean, std).Apply(Images(1, 2, 4, 4), new SeededRandom(0)));
        Assert.Throws<ArgumentException>(() => new Normalize([0f], [0f]));
    }

    [Trait("Category", "Slow")]
    [Fact]
    public void Normalize_and_flip_match_pytorch()
    {
        Requires.Python("torch");
        using var dir = new TempDirectory("tessera-data-");
        using var scope = NewDisposeScope();
        var x = Images(3, 2, 4, 6);
        ReferencePython.WriteFloats(dir.File("x.bin"), x.data<float>().ToArray());
        ReferencePython.Run("""
import sys, numpy as np, torch
d = sys.argv[1]
x = torch.from_numpy(np.fromfile(d + '/x.bin', dtype='<f4').reshape(3, 2, 4, 6))
m = torch.tensor([0.2860, 0.5]).view(1, 2, 1, 1); s = torch.tensor([0.3530, 0.1]).view(1, 2, 1, 1)
((x - m) / s).numpy().astype('<f4').tofile(d + '/norm.bin')
torch.flip(x, [3]).numpy().astype('<f4').tofile(d + '/flip.bin')
""", dir.Path);

        var norm = new Normalize([0.2860f, 0.5f], [0.3530f, 0.1f]).Apply(x, new SeededRandom(0));
        var expected = ReferencePython.ReadFloats(dir.File("norm.bin"));
        var actual = norm.data<float>().ToArray();
        for (int i = 0; i < expected.Length; i++) Assert.Equal(expected[i], actual[i], 5);

        var flipped = new RandomHorizontalFlip(p: 1).Apply(x, new SeededRandom(0));
        Assert.Equal(ReferencePython.ReadFloats(dir.File("flip.bin")), flipped.data<float>().ToArray());
    }

    [Fact]
    public void RandomCrop_of_full_size_without_padding_is_identity()
    {
        using var scope = NewDisposeScope();
        var x = Images(5, 1, 28, 28);
        var y = new RandomCrop(28, 0).Apply(x, new SeededRandom(3));
        Assert.True(y.Same(x));
        Assert.False(ReferenceEquals(x, y));
    }

    [Fact]
    public void RandomCrop_cuts_the_zero_padded_image_at_offsets_drawn_from_the_generator()
    {
        using var scope = NewDisposeScope();
        const int size = 6, pad = 3;
        var x = Images(8, 2, 7, 9);
        var y = new RandomCrop(size, pad).Apply(x, new SeededRandom(99));
        Assert.Equal(new long[] { 8, 2, size, size }, y.shape);

        // Reference: pad by writing the image into a zero canvas, then slice with narrow.
        var canvas = zeros(8, 2, 7 + 2 * pad, 9 + 2 * pad);
        canvas.narrow(2, pad, 7).narrow(3, pad, 9).copy_(x);
        var rng = new SeededRandom(99);
        var seen = new HashSet<(int, int)>();
        for (int i = 0; i < 8; i++)
        {
            int top = rng.NextInt(7 + 2 * pad - size + 1);
            int left = rng.NextInt(9 + 2 * pad - size + 1);
            seen.Add((top, left));
            var expected = canvas[i].narrow(1, top, size).narrow(2, left, size);
            Assert.True(y[i].Same(expected), $"example {i} at ({top}, {left})");
        }
        Assert.True(seen.Count > 1, "offsets should vary between examples");
        Assert.Throws<ArgumentException>(() => new RandomCrop(20, 1).Apply(x, new SeededRandom(0)));
    }

    [Fact]
    public void RandomHorizontalFlip_flips_exactly_the_examples_the_generator_picks()
    {
        using var scope = NewDisposeScope();
        var x = Images(16, 3, 5, 5);
        Assert.True(new RandomHorizontalFlip(p: 1).Apply(x, new SeededRandom(0)).Same(x.flip(3)));
        Assert.True(new RandomHorizontalFlip(p: 0).Apply(x, new SeededRandom(0)).Same(x));

        var y = new RandomHorizontalFlip().Apply(x, new SeededRandom(5));
        var rng = new SeededRandom(5);
        int flips = 0;
        for (int i = 0; i < 16; i++)
        {
            bool flip = rng.NextDouble() < 0.5;
            flips += flip ? 1 : 0;
            Assert.True(y[i].Same(flip ? x[i].flip(2) : x[i]));
        }
        Assert.InRange(flips, 1, 15);
    }

    [Fact]
    public void Compose_runs_in_order_sharing_the_generator_and_keeps_the_input()
    {
        using var scope = NewDisposeScope();
        var x = Images(4, 1, 8, 8);
        var crop = new RandomCrop(8, 2);
        var flip = new RandomHorizontalFlip();
        var norm = new Normalize([0.3f], [0.2f]);
        var composed = new Compose(crop, flip, norm).Apply(x, new SeededRandom(8));

        var rng = new SeededRandom(8);
        var expected = norm.Apply(flip.Apply(crop.Apply(x, rng), rng), rng);
        Assert.True(composed.allclose(expected));
        Assert.False(x.IsInvalid);
        Assert.True(new Compose().Apply(x, rng).Same(x));
    }

    [Fact]
    public void TensorDataset_applies_its_transform_reproducibly_per_generator()
    {
        using var data = new TensorDataset(Images(10, 1, 6, 6), arange(10, dtype: ScalarType.Int64), new RandomCrop(6, 2));
        using var a = data.GetBatch([3, 1, 4], new SeededRandom(1));
        using var b = data.GetBatch([3, 1, 4], new SeededRandom(1));
        using var c = data.GetBatch([3, 1, 4], new SeededRandom(2));
        Assert.True(a.Inputs.Same(b.Inputs));
        Assert.False(a.Inputs.Same(c.Inputs));
        Assert.Equal(new long[] { 3, 1, 4 }, a.Targets.data<long>().ToArray());

        data.Transform = null;
        using var plain = data.GetBatch([3, 1, 4]);
        Assert.True(plain.Inputs.Same(data.Inputs.index_select(0, tensor(new long[] { 3, 1, 4 }))));
        Assert.Throws<ArgumentOutOfRangeException>(() => data.GetBatch([10]));
    }
}

internal static class TensorSame
{
    /// <summary>Same shape and bit-identical elements.</summary>
    public static bool Same(this Tensor a, Tensor b)
    {
        if (!a.shape.SequenceEqual(b.shape)) return false;
        using var eq = a.eq(b);
        using var all = eq.all();
        return all.item<bool>();
    }
}
