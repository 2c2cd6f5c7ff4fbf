using Tessera.Tests.Shared;

namespace Tessera.Cli.Tests;

/// <summary>Bad input to <c>tessera train diffusion</c> and <c>tessera eval</c> on diffusion folders is one line.</summary>
public class DiffusionEvalCommandTests : IDisposable
{
    private readonly TempDirectory temp = new("tessera-cli-diff-eval-");
    public void Dispose() => temp.Dispose();

    [Fact]
    public void Steps_zero_is_one_line()
    {
        var (code, _, err) = CliRunner.Run("eval", temp.Path, "--steps", "0");
        Assert.Equal(Cli.UsageExitCode, code);
        Assert.Single(err.Trim().Split('\n'));
        Assert.Contains("--steps", err);
    }

    [Fact]
    public void Clip_sample_needs_true_or_false()
    {
        var (code, _, err) = CliRunner.Run("eval", temp.Path, "--clip-sample", "sometimes");
        Assert.Equal(Cli.UsageExitCode, code);
        Assert.Single(err.Trim().Split('\n'));
        Assert.Contains("sometimes", err);
    }

    [Fact]
    public void A_diffusion_folder_without_a_classifier_is_one_line()
    {
        File.WriteAllText(Path.Combine(temp.Path, "model_index.json"), """{"_class_name": "DDPMPipeline", "unet": ["diffusers", "UNet2DModel"], "scheduler": ["diffusers", "DDPMScheduler"]}""");
        var (code, _, err) = CliRunner.Run("eval", temp.Path);
        Assert.Equal(Cli.UsageExitCode, code);
        Assert.Single(err.Trim().Split('\n'));
        Assert.Contains("--classifier", err);
    }

    [Fact]
    public void A_folder_that_is_not_a_pipeline_is_one_line()
    {
        string classifier = Path.Combine(temp.Path, "none");
        Directory.CreateDirectory(classifier);
        File.WriteAllText(Path.Combine(temp.Path, "model_index.json"), """{"_class_name": "DDPMPipeline", "unet": ["diffusers", "UNet2DModel"], "scheduler": ["diffusers", "DDPMScheduler"]}""");
        var (code, _, err) = CliRunner.Run("eval", temp.Path, "--classifier", classifier);
        Assert.Equal(Cli.FailureExitCode, code);
        Assert.Single(err.Trim().Split('\n'));
    }

    [Fact]
    public void Train_diffusion_max_steps_zero_is_one_line()
    {
        var (code, _, err) = CliRunner.Run("train", "diffusion", "fashion-mnist", "--max-steps", "0", "--out", Path.Combine(temp.Path, "run"));
        Assert.Equal(Cli.UsageExitCode, code);
        Assert.Single(err.Trim().Split('\n'));
    }
}
