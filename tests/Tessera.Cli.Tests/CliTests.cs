using SkiaSharp;
using Tessera.Data;
using Tessera.Tests.Shared;

namespace Tessera.Cli.Tests;

/// <summary>End-to-end: the real commands on the real Fashion-MNIST files (a short run), plus error handling.</summary>
public class CliTests : IDisposable
{
    private readonly TempDirectory temp = new("tessera-cli-");
    public void Dispose() => temp.Dispose();

    private static (int Code, string Out, string Err) Run(params string[] args) => CliRunner.Run(args);

    [Fact]
    public void Every_command_has_help()
    {
        foreach (var command in new[] { "train", "eval", "predict", "lr-find" })
        {
            var (code, output, _) = Run(command, "--help");
            Assert.Equal(0, code);
            Assert.Contains("Usage:", output);
        }
        Assert.Contains("--batch-size", Run("train", "--help").Out);
    }

    [Fact]
    public void Missing_model_folder_is_one_line_and_exit_code_1()
    {
        var (code, _, err) = Run("eval", Path.Combine(temp.Path, "nope"));
        Assert.Equal(1, code);
        Assert.Single(err.Trim().Split('\n'));
        Assert.Contains("model folder does not exist", err);
        Assert.DoesNotContain("   at ", err);
    }

    [Fact]
    public void Unknown_model_is_a_usage_error()
    {
        var (code, _, err) = Run("train", "fashion-mnist", "--model", "transformer");
        Assert.NotEqual(0, code);
        Assert.Contains("transformer", err);
    }

    [Trait("Category", "Slow")]
    [Fact]
    public void Train_eval_predict_on_fashion_mnist_reaches_an_accuracy_floor()
    {
        Requires.FashionMnist();
        string outDir = Path.Combine(temp.Path, "run");
        var (code, _, err) = Run("train", "fashion-mnist", "--model", "cnn", "--epochs", "1", "--limit-train", "10000", "--out", outDir, "--seed", "1");
        Assert.True(code == 0, err);
        foreach (var file in new[] { "model/config.json", "model/model.safetensors", "model/README.md", "model/preprocessor_config.json", "metrics.csv", "checkpoints/last/trainer_state.json" })
            Assert.True(File.Exists(Path.Combine(outDir, file)), file);
        Assert.NotEmpty(Directory.GetFiles(Path.Combine(outDir, "events"), "events.out.tfevents.*"));

        var eval = Run("eval", Path.Combine(outDir, "model"));
        Assert.Equal(0, eval.Code);
        var accuracyLine = eval.Out.Split('\n').Single(l => l.StartsWith("accuracy: "));
        double accuracy = double.Parse(accuracyLine["accuracy: ".Length..], System.Globalization.CultureInfo.InvariantCulture);
        Assert.True(accuracy >= 0.75, $"accuracy {accuracy} after 1 epoch on 10k images"); // 79 Adam steps; a 10-class guess is 0.10
        Assert.Contains("Ankle boot", eval.Out);

        // A test-set image written as PNG is classified as its own label among the top 3.
        using var test = FashionMnist.Load(train: false, limit: 1);
        var pixels = test.Inputs.data<float>().ToArray();
        long label = test.Targets[0].item<long>();
        string png = Path.Combine(temp.Path, "image.png");
        using (var bitmap = new SKBitmap(28, 28, SKColorType.Gray8, SKAlphaType.Opaque))
        {
            for (int y = 0; y < 28; y++)
                for (int x = 0; x < 28; x++)
                {
                    byte v = (byte)Math.Round(pixels[y * 28 + x] * 255);
                    bitmap.SetPixel(x, y, new SKColor(v, v, v));
                }
            using var data = bitmap.Encode(SKEncodedImageFormat.Png, 100);
            File.WriteAllBytes(png, data.ToArray());
        }
        var predict = Run("predict", Path.Combine(outDir, "model"), png);
        Assert.Equal(0, predict.Code);
        var lines = predict.Out.Trim().Split('\n');
        Assert.Equal(3, lines.Length);
        Assert.Contains(lines, l => l.StartsWith(FashionMnist.Classes[label] + ":"));
    }

    [Trait("Category", "Slow")]
    [Fact]
    public void Train_validates_on_images_held_out_from_the_training_set_not_on_the_test_set()
    {
        Requires.FashionMnist();
        string outDir = Path.Combine(temp.Path, "held-out");
        var (code, _, err) = Run("train", "fashion-mnist", "--model", "mlp", "--epochs", "1", "--limit-train", "3000", "--out", outDir, "--seed", "2");
        Assert.True(code == 0, err);
        string card = File.ReadAllText(Path.Combine(outDir, "model", "README.md"));
        Assert.Contains("5000 held out from the end of the training set for validation", card);

        // The logged val_acc is the saved (last-epoch) model's accuracy on training images 55,000-59,999, computed here
        // independently; the test set gives a different number.
        var header = File.ReadLines(Path.Combine(outDir, "metrics.csv")).First().Split(',');
        int column = Array.IndexOf(header, "val_acc");
        Assert.True(column > 0, string.Join(",", header));
        double logged = File.ReadLines(Path.Combine(outDir, "metrics.csv")).Skip(1).Select(l => l.Split(','))
            .Where(cells => cells.Length > column && cells[column] != "").Select(cells => double.Parse(cells[column], System.Globalization.CultureInfo.InvariantCulture)).Last();
        using var predictor = Tessera.Tasks.ImagePredictor.Load(Path.Combine(outDir, "model"));
        using var train = FashionMnist.Load(train: true);
        using var heldOut = new TensorDataset(train.Inputs.narrow(0, 55_000, 5_000), train.Targets.narrow(0, 55_000, 5_000));
        using var test = FashionMnist.Load(train: false);
        Assert.Equal(predictor.Evaluate(heldOut).Accuracy, logged, 4);
        Assert.NotEqual(predictor.Evaluate(test).Accuracy, logged, 4);

        // --val-size 0: no validation at all (and no best checkpoint), the test set still only reports.
        string none = Path.Combine(temp.Path, "no-val");
        (code, _, err) = Run("train", "fashion-mnist", "--model", "mlp", "--epochs", "1", "--limit-train", "1000", "--val-size", "0", "--out", none);
        Assert.True(code == 0, err);
        Assert.DoesNotContain("val_acc", File.ReadLines(Path.Combine(none, "metrics.csv")).First());
        Assert.Contains("no validation", File.ReadAllText(Path.Combine(none, "model", "README.md")));
    }

    [Fact]
    public void Resume_continues_a_run_from_its_last_checkpoint()
    {
        Requires.FashionMnist();
        string outDir = Path.Combine(temp.Path, "resumed");
        string[] common = ["train", "fashion-mnist", "--model", "mlp", "--limit-train", "2000", "--out", outDir, "--seed", "3"];
        Assert.Equal(0, Run([.. common, "--epochs", "1"]).Code);
        string state = Path.Combine(outDir, "checkpoints", "last", "trainer_state.json");
        Assert.Contains("\"epoch\": 1", File.ReadAllText(state));
        int rowsAfterFirst = File.ReadAllLines(Path.Combine(outDir, "metrics.csv")).Length;

        var (code, _, err) = Run([.. common, "--epochs", "2", "--resume"]);
        Assert.True(code == 0, err);
        Assert.Contains("\"epoch\": 2", File.ReadAllText(state));
        Assert.True(File.ReadAllLines(Path.Combine(outDir, "metrics.csv")).Length > rowsAfterFirst); // appended, not restarted
    }

    [Trait("Category", "Slow")]
    [Fact]
    public void Resume_without_a_checkpoint_says_where_it_looked()
    {
        Requires.FashionMnist();
        var (code, _, err) = Run("train", "fashion-mnist", "--out", Path.Combine(temp.Path, "empty"), "--resume");
        Assert.Equal(1, code);
        Assert.Contains("--resume: no complete checkpoint in", err);
        Assert.Contains(Path.Combine("empty", "checkpoints"), err);
    }

    [Fact]
    public void Hub_download_offline_without_a_cached_copy_is_one_clear_line()
    {
        string? before = Environment.GetEnvironmentVariable("HF_HUB_OFFLINE");
        Environment.SetEnvironmentVariable("HF_HUB_OFFLINE", "1"); // never touch the network from tests
        try
        {
            var (code, _, err) = Run("hub", "download", "org/tiny-model@main", "--cache-dir", Path.Combine(temp.Path, "hub"));
            Assert.Equal(1, code);
            Assert.Single(err.Trim().Split('\n'));
            Assert.Contains("org/tiny-model", err);
            Assert.Contains("offline", err, StringComparison.OrdinalIgnoreCase);
        }
        finally
        {
            Environment.SetEnvironmentVariable("HF_HUB_OFFLINE", before);
        }
    }
}
