using System.Globalization;
using Tessera.Data;
using Tessera.Data.Transforms;
using Tessera.Formats;
using Tessera.Tests.Shared;
using TorchSharp;
using static TorchSharp.torch;

namespace Tessera.Tests.Data;

/// <summary>Loads the installed training split once for the tests that read it.</summary>
public sealed class FashionMnistTrainFixture : IDisposable
{
    public FashionMnistTrainFixture()
    {
        if (Requires.FashionMnistInstalled) train = FashionMnist.Load(train: true);
    }

    private readonly TensorDataset? train;

    /// <summary>The training split; skips the calling test when Fashion-MNIST is not installed.</summary>
    public TensorDataset Train
    {
        get
        {
            Requires.FashionMnist();
            return train ?? throw new InvalidOperationException("the train split was not loaded although Fashion-MNIST is installed");
        }
    }

    public void Dispose() => train?.Dispose();
}

public class FashionMnistTests(FashionMnistTrainFixture fixture) : IClassFixture<FashionMnistTrainFixture>
{
    private static long[] LabelCounts(Tensor labels) =>
        Enumerable.Range(0, 10).Select(c => labels.eq(c).sum().item<long>()).ToArray();

    [Fact]
    public void Train_split_has_60000_images_in_unit_range_and_6000_per_class()
    {
        TensorDataset train = fixture.Train;
        using var scope = NewDisposeScope();
        Assert.Equal(60000, train.Count);
        Assert.Equal(new long[] { 60000, 1, 28, 28 }, train.Inputs.shape);
        Assert.Equal(ScalarType.Float32, train.Inputs.dtype);
        Assert.Equal(ScalarType.Int64, train.Targets.dtype);
        Assert.Equal(0f, train.Inputs.min().item<float>());
        Assert.Equal(1f, train.Inputs.max().item<float>());
        Assert.All(LabelCounts(train.Targets), c => Assert.Equal(6000, c));
    }

    [Fact]
    public void Test_split_has_10000_images_and_1000_per_class()
    {
        Requires.FashionMnist();
        using var test = FashionMnist.Load(train: false);
        using var scope = NewDisposeScope();
        Assert.Equal(new long[] { 10000, 1, 28, 28 }, test.Inputs.shape);
        Assert.All(LabelCounts(test.Targets), c => Assert.Equal(1000, c));
        Assert.InRange(test.Inputs.min().item<float>(), 0f, 0f);
        Assert.InRange(test.Inputs.max().item<float>(), 1f, 1f);
    }

    [Trait("Category", "Slow")]
    [Fact]
    public void Mean_and_std_constants_match_the_train_pixels_and_numpy()
    {
        TensorDataset train = fixture.Train;
        using var scope = NewDisposeScope();
        double mean = train.Inputs.to_type(ScalarType.Float64).mean().item<double>();
        double std = train.Inputs.to_type(ScalarType.Float64).std(unbiased: false).item<double>();
        double firstSum = train.Inputs[0].to_type(ScalarType.Float64).sum().item<double>();
        Assert.Equal(FashionMnist.Mean, mean, 4);
        Assert.Equal(FashionMnist.Std, std, 4);

        Requires.Python("numpy");
        string output = ReferencePython.Run("""
import gzip, sys, numpy as np
raw = gzip.open(sys.argv[1] + '/train-images-idx3-ubyte.gz').read()
px = np.frombuffer(raw, dtype=np.uint8, offset=16)
h = np.bincount(px, minlength=256).astype(np.float64)
v = np.arange(256) / 255.0
mean = (h * v).sum() / h.sum()
std = np.sqrt((h * (v - mean) ** 2).sum() / h.sum())
lab = np.frombuffer(gzip.open(sys.argv[1] + '/train-labels-idx1-ubyte.gz').read(), dtype=np.uint8, offset=8)
print(repr(mean), repr(std), repr(px[:784].astype(np.float64).sum() / 255.0), int(lab[0]), int(lab[-1]))
""", FashionMnist.DefaultRoot);
        var f = output.Split(' ', StringSplitOptions.TrimEntries);
        Assert.Equal(double.Parse(f[0], CultureInfo.InvariantCulture), mean, 6);
        Assert.Equal(double.Parse(f[1], CultureInfo.InvariantCulture), std, 6);
        Assert.Equal(double.Parse(f[2], CultureInfo.InvariantCulture), firstSum, 3);
        Assert.Equal(long.Parse(f[3], CultureInfo.InvariantCulture), train.Targets[0].item<long>());
        Assert.Equal(long.Parse(f[4], CultureInfo.InvariantCulture), train.Targets[59999].item<long>());
    }

    [Fact]
    public void Augmented_prefetching_loader_covers_the_test_split_once_per_epoch()
    {
        Requires.FashionMnist();
        using var test = FashionMnist.Load(train: false);
        test.Transform = new Compose(new RandomCrop(28, 4), new RandomHorizontalFlip(),
            new Normalize([FashionMnist.Mean], [FashionMnist.Std]));
        var loader = new DataLoader<Batch>(test, new DataLoaderOptions { BatchSize = 128, Shuffle = true, Seed = 1 });
        var labelCounts = new long[10];
        int batches = 0;
        foreach (var batch in loader.Epoch(0))
        {
            using var scope = NewDisposeScope();
            using (batch)
            {
                batches++;
                Assert.Equal(new long[] { batch.Size, 1, 28, 28 }, batch.Inputs.shape);
                foreach (long label in batch.Targets.data<long>().ToArray()) labelCounts[label]++;
            }
        }
        Assert.Equal(79, batches);
        Assert.All(labelCounts, c => Assert.Equal(1000, c));
    }

    [Fact]
    public void Classes_are_the_ten_fashion_mnist_names()
    {
        Assert.Equal(10, FashionMnist.Classes.Length);
        Assert.Equal("T-shirt/top", FashionMnist.Classes[0]);
        Assert.Equal("Sneaker", FashionMnist.Classes[7]);
        Assert.Equal("Ankle boot", FashionMnist.Classes[9]);
    }

    [Fact]
    public void Missing_files_name_the_directory_and_the_debian_package()
    {
        using var dir = new TempDirectory("tessera-data-");
        var e = Assert.Throws<DatasetNotFoundException>(() => FashionMnist.Load(train: true, root: dir.Path));
        Assert.Equal(dir.Path, e.Directory);
        Assert.Contains(dir.Path, e.Message);
        Assert.Contains("install the Debian package dataset-fashion-mnist (apt-get install dataset-fashion-mnist)", e.Message);
    }

    [Fact]
    public void Reads_uncompressed_files_and_honours_limit()
    {
        using var dir = new TempDirectory("tessera-data-");
        var pixels = Enumerable.Range(0, 3 * 784).Select(i => (byte)(i % 256)).ToArray();
        File.WriteAllBytes(dir.File("t10k-images-idx3-ubyte"), IdxReaderTests.Idx(0x08, [3, 28, 28], pixels));
        File.WriteAllBytes(dir.File("t10k-labels-idx1-ubyte"), IdxReaderTests.Idx(0x08, [3], [9, 0, 4]));

        using var all = FashionMnist.Load(train: false, root: dir.Path);
        Assert.Equal(3, all.Count);
        Assert.Equal(new long[] { 9, 0, 4 }, all.Targets.data<long>().ToArray());
        Assert.Equal(pixels[784 + 300] / 255f, all.Inputs[1, 0, 300 / 28, 300 % 28].item<float>(), 6);

        using var two = FashionMnist.Load(train: false, root: dir.Path, limit: 2);
        Assert.Equal(new long[] { 2, 1, 28, 28 }, two.Inputs.shape);
        Assert.Equal(new long[] { 9, 0 }, two.Targets.data<long>().ToArray());
    }

    [Fact]
    public void Out_of_range_labels_and_mismatched_counts_are_format_errors()
    {
        using var dir = new TempDirectory("tessera-data-");
        File.WriteAllBytes(dir.File("t10k-images-idx3-ubyte"), IdxReaderTests.Idx(0x08, [2, 28, 28], new byte[2 * 784]));
        File.WriteAllBytes(dir.File("t10k-labels-idx1-ubyte"), IdxReaderTests.Idx(0x08, [2], [3, 10]));
        var e = Assert.Throws<TesseraFormatException>(() => FashionMnist.Load(train: false, root: dir.Path));
        Assert.Contains("label 10", e.Message);

        File.WriteAllBytes(dir.File("t10k-labels-idx1-ubyte"), IdxReaderTests.Idx(0x08, [3], [1, 2, 3]));
        e = Assert.Throws<TesseraFormatException>(() => FashionMnist.Load(train: false, root: dir.Path));
        Assert.Contains("3 labels for 2 images", e.Message);
    }
}
