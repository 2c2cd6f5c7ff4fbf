using Tessera.Data;
using Tessera.Tests.Shared;

namespace Tessera.Cli.Tests;

/// <summary>A tiny mlp trained once per test class by <c>tessera train</c> (2000 images, 1 epoch); null when Fashion-MNIST is not installed.</summary>
public sealed class TrainedMlpFolder : IDisposable
{
    private readonly TempDirectory temp = new("tessera-cli-mlp-");

    public TrainedMlpFolder()
    {
        if (!Directory.Exists(FashionMnist.DefaultRoot)) return; // CI installs dataset-fashion-mnist
        string run = System.IO.Path.Combine(temp.Path, "run");
        var error = new StringWriter();
        int code = Cli.Run(["train", "fashion-mnist", "--model", "mlp", "--epochs", "1", "--limit-train", "2000", "--out", run, "--seed", "2"], new StringWriter(), error);
        if (code != 0) throw new InvalidOperationException($"training the test mlp failed: {error}");
        Path = System.IO.Path.Combine(run, "model");
    }

    /// <summary>The model folder, or null without the dataset.</summary>
    public string? Path { get; }

    public void Dispose() => temp.Dispose();
}
