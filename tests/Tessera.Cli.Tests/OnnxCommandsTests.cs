using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using Tessera.Runtime;
using Tessera.Tests.Shared;

namespace Tessera.Cli.Tests;

/// <summary>export, quantize, eval on ONNX and bench end to end on a tiny trained mlp, plus their one-line errors.</summary>
[Trait("Category", "Slow")] // the class fixture trains an mlp with tessera train before any test here runs
public class OnnxCommandsTests(TrainedMlpFolder trained) : IClassFixture<TrainedMlpFolder>, IDisposable
{
    private readonly TempDirectory temp = new("tessera-cli-onnx-");
    public void Dispose() => temp.Dispose();

    private static (int Code, string Out, string Err) Run(params string[] args) => CliRunner.Run(args);

    private static double Accuracy(string evalOutput)
    {
        var line = evalOutput.Split('\n').Single(l => l.StartsWith("accuracy: "));
        return double.Parse(line["accuracy: ".Length..], CultureInfo.InvariantCulture);
    }

    [Fact]
    public void New_commands_have_help()
    {
        foreach (var command in new[] { "export", "quantize", "bench" })
        {
            var (code, output, _) = Run(command, "--help");
            Assert.Equal(0, code);
            Assert.Contains("Usage:", output);
        }
        Assert.Contains("--form", Run("quantize", "--help").Out);
    }

    [Fact]
    public void Eval_on_the_exported_onnx_gives_the_folders_accuracy()
    {
        string folder = trained.Path;
        string onnx = Path.Combine(temp.Path, "fm.onnx");
        var export = Run("export", folder, "--out", onnx);
        Assert.True(export.Code == 0, export.Err);
        Assert.Matches(@"max abs error vs TorchSharp: \d\.\de[+-]\d\d .*batch 1, 3", export.Out);
        Assert.Contains("nodes", export.Out);

        var torch = Run("eval", folder);
        var ort = Run("eval", onnx);
        Assert.True(ort.Code == 0, ort.Err);
        Assert.InRange(Math.Abs(Accuracy(torch.Out) - Accuracy(ort.Out)), 0, 0.001);
        Assert.Contains("Ankle boot", ort.Out); // labels from the file's metadata

        // --out a folder: model.onnx beside the config files, loadable as an ONNX folder.
        string dir = Path.Combine(temp.Path, "onnx") + Path.DirectorySeparatorChar;
        Assert.Equal(0, Run("export", folder, "--out", dir, "--no-verify").Code);
        foreach (var file in new[] { "model.onnx", "config.json", "preprocessor_config.json" })
            Assert.True(File.Exists(Path.Combine(dir, file)), file);
        Assert.Equal(Accuracy(ort.Out), Accuracy(Run("eval", dir).Out));
    }

    [Fact]
    public void Quantize_prints_sizes_and_accuracy_and_writes_a_loadable_file()
    {
        string folder = trained.Path;
        string onnx = Path.Combine(temp.Path, "fm.onnx");
        Assert.Equal(0, Run("export", folder, "--out", onnx, "--no-verify").Code);
        string int8 = Path.Combine(temp.Path, "fm.int8.onnx");
        var (code, output, err) = Run("quantize", onnx, "--out", int8);
        Assert.True(code == 0, err);
        var ratio = Regex.Match(output, @"\((\d\.\d+)x\)");
        Assert.True(ratio.Success, output);
        Assert.InRange(double.Parse(ratio.Groups[1].Value, CultureInfo.InvariantCulture), 0.2, 0.35); // int8 weights, float biases
        Assert.Matches(@"accuracy: 0\.\d{4} \(fp32\) -> 0\.\d{4} \(int8\)", output);
        using var model = OnnxModel.Load(int8);
        Assert.Equal(10, model.Labels.Count);

        var again = Run("quantize", int8);
        Assert.Equal(1, again.Code);
        Assert.Contains("already quantized", again.Err);

        // bench on the int8 file labels its one row int8, not fp32.
        var bench = Run("bench", int8, "--json", "--batch", "1", "--iterations", "3", "--warmup", "1");
        Assert.True(bench.Code == 0, bench.Err);
        using var json = JsonDocument.Parse(bench.Out);
        Assert.Equal(["ort-int8"], json.RootElement.GetProperty("backends").EnumerateArray().Select(b => b.GetString()!));
    }

    [Fact]
    public void Predict_on_the_exported_onnx_file_matches_predict_on_the_model_folder()
    {
        string folder = trained.Path;
        string onnx = Path.Combine(temp.Path, "predict.onnx");
        Assert.Equal(0, Run("export", folder, "--out", onnx, "--no-verify").Code);
        string png = Path.Combine(temp.Path, "shirt.png");
        using (var bitmap = new SkiaSharp.SKBitmap(28, 28, SkiaSharp.SKColorType.Gray8, SkiaSharp.SKAlphaType.Opaque))
        {
            var random = new Random(5);
            for (int y = 0; y < 28; y++)
                for (int x = 0; x < 28; x++)
                {
                    byte v = (byte)(x is > 6 and < 21 && y > 3 ? 150 + random.Next(100) : random.Next(30));
                    bitmap.SetPixel(x, y, new SkiaSharp.SKColor(v, v, v));
                }
            using var data = bitmap.Encode(SkiaSharp.SKEncodedImageFormat.Png, 100);
            File.WriteAllBytes(png, data.ToArray());
        }
        var torch = Run("predict", folder, png, "--top", "10");
        var ort = Run("predict", onnx, png, "--top", "10");
        Assert.True(torch.Code == 0, torch.Err);
        Assert.True(ort.Code == 0, ort.Err);
        static Dictionary<string, double> Parse(string text) => text.Trim().Split('\n')
            .Select(l => l.Split(": ")).ToDictionary(p => p[0], p => double.Parse(p[1], CultureInfo.InvariantCulture));
        var a = Parse(torch.Out);
        var b = Parse(ort.Out);
        Assert.Equal(10, a.Count);
        Assert.Equal(a.Keys.Order(), b.Keys.Order());
        Assert.All(a, kv => Assert.InRange(Math.Abs(kv.Value - b[kv.Key]), 0, 2e-4));
    }

    [Fact]
    public void Bench_json_has_every_backend_and_batch()
    {
        string folder = trained.Path;
        var (code, output, err) = Run("bench", folder, "--json", "--batch", "1,4", "--iterations", "5", "--warmup", "1", "--accuracy");
        Assert.True(code == 0, err);
        using var json = JsonDocument.Parse(output);
        var backends = json.RootElement.GetProperty("backends").EnumerateArray().Select(b => b.GetString()!).ToArray();
        Assert.Equal(["torchsharp", "ort-fp32", "ort-int8", "ort-fp16", "ort-int8-qdq", "ort-format"], backends);
        var results = json.RootElement.GetProperty("results").EnumerateArray().ToArray();
        Assert.Equal(12, results.Length);
        // Every ONNX Runtime variant has a file size and a test accuracy; fp16, int8 and the .ort stay within 1 point of fp32.
        var accuracy = json.RootElement.GetProperty("accuracy");
        double fp32 = accuracy.GetProperty("ort-fp32").GetDouble();
        foreach (string b in backends.Skip(1))
        {
            Assert.True(json.RootElement.GetProperty("file_bytes").GetProperty(b).GetInt64() > 0, b);
            Assert.InRange(accuracy.GetProperty(b).GetDouble(), fp32 - 0.01, fp32 + 0.01);
        }
        foreach (var r in results)
        {
            Assert.True(r.GetProperty("p50_ms").GetDouble() > 0);
            Assert.True(r.GetProperty("p99_ms").GetDouble() >= r.GetProperty("p50_ms").GetDouble());
            Assert.True(r.GetProperty("items_per_second").GetDouble() > 0);
        }
        Assert.Equal([1, 1, 1, 1, 1, 1, 4, 4, 4, 4, 4, 4], results.Select(r => r.GetProperty("batch").GetInt32()));
    }

    [Theory]
    [InlineData("eval", "missing.onnx", "file not found")]
    [InlineData("eval", "notes.txt", "not a valid ONNX model")]
    [InlineData("quantize", "missing.onnx", "missing.onnx")]
    [InlineData("quantize", "notes.txt", "not an ONNX model")]
    [InlineData("bench", "notes.txt", "not a valid ONNX model")]
    [InlineData("export", "no-folder", "model folder does not exist")]
    public void Bad_model_files_are_one_line_and_exit_code_1(string command, string file, string message)
    {
        File.WriteAllText(Path.Combine(temp.Path, "notes.txt"), "not a model\n");
        var (code, _, err) = Run(command, Path.Combine(temp.Path, file));
        Assert.Equal(1, code);
        Assert.Single(err.Trim().Split('\n'));
        Assert.Contains(message, err);
        Assert.DoesNotContain("   at ", err);
    }
}
