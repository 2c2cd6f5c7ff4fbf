using SkiaSharp;
using Tessera.Diffusion;
using Tessera.Diffusion.Schedulers;
using Tessera.Export;
using Tessera.Tests.Shared;

namespace Tessera.Cli.Tests;

/// <summary><c>tessera sample</c> on a tiny random class-conditional pipeline folder and its ONNX export.</summary>
public class SampleCommandTests : IDisposable
{
    private readonly TempDirectory temp = new("tessera-cli-sample-");
    public void Dispose() => temp.Dispose();

    private string PipelineFolder()
    {
        string folder = Path.Combine(temp.Path, "pipe");
        TorchSharp.torch.manual_seed(2);
        var config = new UNet2DConfig
        {
            SampleSize = 8, InChannels = 1, OutChannels = 1, BlockOutChannels = [16, 16], LayersPerBlock = 1, NormNumGroups = 4,
            DownBlockTypes = ["DownBlock2D", "AttnDownBlock2D"], UpBlockTypes = ["AttnUpBlock2D", "UpBlock2D"], NumClassEmbeds = 3,
        };
        using var pipe = new DiffusionPipeline(new UNet2DModel(config), new DdimScheduler());
        pipe.SavePretrained(folder);
        return folder;
    }

    [Trait("Category", "Slow")]
    [Fact]
    public void Sample_writes_pngs_and_a_grid_for_torchsharp_and_onnx_folders_alike()
    {
        string folder = PipelineFolder();
        string outA = Path.Combine(temp.Path, "a"), outB = Path.Combine(temp.Path, "b");
        var (code, output, err) = CliRunner.Run("sample", folder, "--class", "2", "--num", "3", "--steps", "4", "--seed", "7", "--out", outA);
        Assert.True(code == 0, err);
        Assert.Contains("TorchSharp", output);
        Assert.Contains(Path.Combine(outA, "grid.png"), output);
        foreach (string f in new[] { "0.png", "1.png", "2.png", "grid.png" }) Assert.True(File.Exists(Path.Combine(outA, f)), f);

        string onnx = Path.Combine(temp.Path, "onnx");
        ModelExport.Export(folder, onnx);
        var ort = CliRunner.Run("sample", onnx, "--class", "2", "--num", "3", "--steps", "4", "--seed", "7", "--out", outB);
        Assert.True(ort.Code == 0, ort.Err);
        Assert.Contains("ONNX Runtime", ort.Out);
        using SKBitmap a = SKBitmap.Decode(Path.Combine(outA, "1.png")), b = SKBitmap.Decode(Path.Combine(outB, "1.png"));
        int worst = 0;
        for (int y = 0; y < 8; y++)
            for (int x = 0; x < 8; x++) worst = Math.Max(worst, Math.Abs(a.GetPixel(x, y).Red - b.GetPixel(x, y).Red));
        Assert.True(worst <= 1, $"TorchSharp and ONNX Runtime images differ by {worst} levels");

        var swapped = CliRunner.Run("sample", folder, "--class", "0", "--num", "1", "--steps", "3", "--scheduler", "euler-a", "--out", outA);
        Assert.True(swapped.Code == 0, swapped.Err);
        Assert.Contains("EulerAncestralDiscreteScheduler", swapped.Out);
    }

    [Trait("Category", "Slow")]
    [Fact]
    public void Bad_input_is_one_line_with_the_cli_exit_codes()
    {
        string folder = PipelineFolder();
        var badClass = CliRunner.Run("sample", folder, "--class", "3", "--num", "1", "--steps", "2", "--out", Path.Combine(temp.Path, "x"));
        Assert.Equal(2, badClass.Code);
        Assert.Contains("class label 3 is outside [0, 3)", badClass.Err);
        Assert.Single(badClass.Err.Trim().Split('\n'));

        Assert.Equal(2, CliRunner.Run("sample", folder, "--steps", "0").Code);
        Assert.Equal(2, CliRunner.Run("sample", folder, "--scheduler", "plms").Code);
        var eta = CliRunner.Run("sample", folder, "--class", "1", "--eta", "0.5", "--scheduler", "euler", "--steps", "1");
        Assert.Equal(2, eta.Code);
        Assert.Contains("--eta", eta.Err);

        var notPipeline = CliRunner.Run("sample", temp.Path);
        Assert.Equal(1, notPipeline.Code);
        Assert.Contains("not a diffusion pipeline folder", notPipeline.Err);
        Assert.Single(notPipeline.Err.Trim().Split('\n'));

        File.Delete(Path.Combine(folder, "unet", "config.json"));
        var noConfig = CliRunner.Run("sample", folder, "--class", "1");
        Assert.Equal(1, noConfig.Code);
        Assert.Contains("config.json", noConfig.Err);
    }

    [Trait("Category", "Slow")]
    [Fact]
    public void Wrong_shapes_and_unknown_block_types_are_one_line_errors()
    {
        string folder = PipelineFolder();
        string config = Path.Combine(folder, "unet", "config.json");
        string original = File.ReadAllText(config);
        File.WriteAllText(config, original.Replace("\"num_class_embeds\": 3", "\"num_class_embeds\": 4"));
        var shapes = CliRunner.Run("sample", folder, "--class", "1");
        Assert.Equal(1, shapes.Code);
        Assert.Contains("class_embedding.weight", shapes.Err);
        Assert.Single(shapes.Err.Trim().Split('\n'));

        File.WriteAllText(config, original.Replace("\"UpBlock2D\"", "\"UpBlockXL\""));
        var block = CliRunner.Run("sample", folder, "--class", "1");
        Assert.Equal(1, block.Code);
        Assert.Contains("UpBlockXL", block.Err);
        Assert.Single(block.Err.Trim().Split('\n'));
    }
}
