using Tessera.Tests.Shared;

namespace Tessera.Cli.Tests;

/// <summary>A tiny mlp trained once per test class by <c>tessera train</c> (2000 images, 1 epoch); not trained when Fashion-MNIST is not installed.</summary>
public sealed class TrainedMlpFolder : IDisposable
{
    private readonly TempDirectory temp = new("tessera-cli-mlp-");

    private readonly string? path;

    public TrainedMlpFolder()
    {
        if (!Requires.FashionMnistInstalled) return; // the tests that read Path skip; CI installs dataset-fashion-mnist
        string run = System.IO.Path.Combine(temp.Path, "run");
        var error = new StringWriter();
        int code = Cli.Run(["train", "fashion-mnist", "--model", "mlp", "--epochs", "1", "--limit-train", "2000", "--out", run, "--seed", "2"], new StringWriter(), error);
        if (code != 0) throw new InvalidOperationException($"training the test mlp failed: {error}");
        path = System.IO.Path.Combine(run, "model");
    }

    /// <summary>The model folder; skips the calling test when Fashion-MNIST is not installed.</summary>
    public string Path
    {
        get
        {
            Requires.FashionMnist();
            return path ?? throw new InvalidOperationException("the test mlp was not trained although Fashion-MNIST is installed");
        }
    }

    public void Dispose() => temp.Dispose();
}
