using Tessera.Formats;
using TorchSharp;
using static TorchSharp.torch;

namespace Tessera.Data;

/// <summary>
/// Fashion-MNIST (Zalando): 28x28 grayscale images of clothing in 10 classes, 60000 for training and 10000 for
/// testing, read from the IDX files that the Debian package <c>dataset-fashion-mnist</c> installs.
/// </summary>
public static class FashionMnist
{
    /// <summary>Where the Debian package <c>dataset-fashion-mnist</c> puts the files.</summary>
    public const string DefaultRoot = "/usr/share/datasets/fashion-mnist";

    /// <summary>Mean pixel value of the training images, scaled to [0, 1].</summary>
    public const float Mean = 0.2860f;

    /// <summary>Standard deviation of the training pixels, scaled to [0, 1].</summary>
    public const float Std = 0.3530f;

    /// <summary>Image side in pixels.</summary>
    public const int ImageSize = 28;

    /// <summary>Class names, indexed by label.</summary>
    public static readonly string[] Classes =
    [
        "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
    ];

    /// <summary>
    /// Loads the training or test split as inputs float32 [N, 1, 28, 28] scaled to [0, 1] and labels int64 [N].
    /// Reads <c>train-images-idx3-ubyte.gz</c> / <c>train-labels-idx1-ubyte.gz</c> (or <c>t10k-*</c>), or the same
    /// names without <c>.gz</c>.
    /// </summary>
    /// <param name="train">True for the 60000 training examples, false for the 10000 test examples.</param>
    /// <param name="root">Directory holding the files; <see cref="DefaultRoot"/> when null.</param>
    /// <param name="limit">Keep only the first <paramref name="limit"/> examples (all when null).</param>
    /// <exception cref="DatasetNotFoundException">A file is missing; the message names the directory and the package to install.</exception>
    /// <exception cref="TesseraFormatException">A file is not valid IDX, or its shape, type or labels do not fit Fashion-MNIST.</exception>
    public static TensorDataset Load(bool train, string? root = null, int? limit = null)
    {
        if (limit is < 0) throw new ArgumentOutOfRangeException(nameof(limit), limit, "Limit must not be negative.");
        root ??= DefaultRoot;
        string prefix = train ? "train" : "t10k";
        string imagesPath = Find(root, $"{prefix}-images-idx3-ubyte");
        string labelsPath = Find(root, $"{prefix}-labels-idx1-ubyte");

        var images = IdxReader.Read(imagesPath);
        if (images.Type != IdxElementType.UInt8 || images.Dims.Length != 3 || images.Dims[1] != ImageSize || images.Dims[2] != ImageSize)
            throw new TesseraFormatException(imagesPath, $"expected UInt8 images [N, {ImageSize}, {ImageSize}]; found {images.Type} [{string.Join(", ", images.Dims)}].");
        var labels = IdxReader.Read(labelsPath);
        if (labels.Type != IdxElementType.UInt8 || labels.Dims.Length != 1)
            throw new TesseraFormatException(labelsPath, $"expected UInt8 labels [N]; found {labels.Type} [{string.Join(", ", labels.Dims)}].");
        if (labels.Dims[0] != images.Dims[0])
            throw new TesseraFormatException(labelsPath, $"{labels.Dims[0]} labels for {images.Dims[0]} images in {imagesPath}.");
        int bad = Array.FindIndex(labels.Data, l => l >= Classes.Length);
        if (bad >= 0)
            throw new TesseraFormatException(labelsPath, $"label {labels.Data[bad]} at index {bad} is outside 0..{Classes.Length - 1}.");

        int n = Math.Min(images.Dims[0], limit ?? int.MaxValue);
        int pixels = ImageSize * ImageSize;
        using var scope = NewDisposeScope();
        var x = torch.tensor(images.Data.AsSpan(0, n * pixels).ToArray(), new long[] { n, 1, ImageSize, ImageSize })
            .to_type(ScalarType.Float32).div_(255f);
        var y = torch.tensor(labels.Data.AsSpan(0, n).ToArray(), new long[] { n }).to_type(ScalarType.Int64);
        return new TensorDataset(x.MoveToOuterDisposeScope(), y.MoveToOuterDisposeScope());
    }

    private static string Find(string root, string name)
    {
        foreach (string candidate in new[] { name + ".gz", name })
        {
            string path = Path.Combine(root, candidate);
            if (File.Exists(path)) return path;
        }
        throw new DatasetNotFoundException(root,
            $"Fashion-MNIST file {name}.gz (or {name}) not found in {root}; install the Debian package dataset-fashion-mnist (apt-get install dataset-fashion-mnist).");
    }
}
