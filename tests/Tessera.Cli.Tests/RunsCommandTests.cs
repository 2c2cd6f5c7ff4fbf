using Tessera.Tests.Shared;
using Tessera.Tracking.Runs;

namespace Tessera.Cli.Tests;

[Collection(SeededAlone.Name)]
public sealed class RunsCommandTests : IDisposable
{
    readonly TempDirectory temp = new("tessera-cli-runs-");

    public void Dispose() => temp.Dispose();

    string Store => temp.File("store");

    [Fact]
    public void A_failing_tracked_command_is_recorded_as_failed_with_its_error()
    {
        var (code, _, err) = CliRunner.Run("eval", temp.File("no-such-model"), "--tracking-uri", Store);
        Assert.NotEqual(0, code);
        using var store = RunStore.Open(Store);
        var run = Assert.Single(store.ListRuns());
        Assert.Equal(RunStatus.Failed, run.Status);
        Assert.Equal("eval", store.ListExperiments().Single(e => e.Id == run.ExperimentId).Name);
        Assert.Equal(temp.File("no-such-model"), store.GetParams(run.Id)["model"]);
        Assert.Contains("no-such-model", store.GetTags(run.Id)["tessera.error"]);
        Assert.Equal(["eval", temp.File("no-such-model"), "--tracking-uri", Store], run.Arguments);
        Assert.NotNull(store.GetEnvironment(run.Id)?.Values.GetValueOrDefault("version.dotnet"));
        Assert.DoesNotContain("warning", err);
    }

    [Fact]
    public void No_track_records_nothing_and_commands_that_only_read_are_not_tracked()
    {
        CliRunner.Run("eval", temp.File("no-such-model"), "--tracking-uri", Store, "--no-track");
        CliRunner.Run("runs", "list", "--tracking-uri", Store);
        using var store = RunStore.Open(Store);
        Assert.Empty(store.ListRuns());
    }

    [Fact]
    public void Runs_show_of_an_unknown_id_is_one_error_line()
    {
        var (code, _, err) = CliRunner.Run("runs", "show", "abcdef", "--tracking-uri", Store);
        Assert.Equal(Cli.FailureExitCode, code);
        Assert.StartsWith("error: ", err);
        Assert.Contains("no run 'abcdef'", err);
    }

    [Fact]
    [Trait("Category", "Slow")]
    public void A_diffusion_training_is_recorded_with_its_losses_and_pipeline_folder()
    {
        Requires.FashionMnist();
        string output = temp.File("diffusion");
        var (code, _, err) = CliRunner.Run("train", "diffusion", "fashion-mnist", "--unet", "tiny", "--epochs", "1", "--limit-train", "32", "--batch-size", "8",
            "--sample-steps", "2", "--threads", "1", "--out", output, "--tracking-uri", Store);
        Assert.True(code == 0, err);
        using var store = RunStore.Open(Store);
        var run = Assert.Single(store.ListRuns());
        Assert.Equal(RunStatus.Finished, run.Status);
        Assert.Equal("train diffusion", store.GetTags(run.Id)["tessera.command"]);
        Assert.Equal("tiny", store.GetParams(run.Id)["unet"]);
        Assert.Contains(store.GetMetricHistory(run.Id), p => p.Key == "train_loss" && double.IsFinite(p.Value));
        Assert.Contains(store.GetArtifacts(run.Id), a => a.Path.StartsWith(Path.Combine(output, "model"), StringComparison.Ordinal));
    }

    [Fact]
    [Trait("Category", "Slow")]
    public void A_training_is_recorded_listed_shown_and_reproduced_with_identical_weights()
    {
        Requires.FashionMnist();
        string output = temp.File("run");
        var (code, _, err) = CliRunner.Run("train", "fashion-mnist", "--model", "mlp", "--epochs", "1", "--limit-train", "256", "--val-size", "64",
            "--out", output, "--seed", "3", "--threads", "1", "--tracking-uri", Store);
        Assert.True(code == 0, err);
        string id;
        using (var store = RunStore.Open(Store))
        {
            var run = Assert.Single(store.ListRuns());
            id = run.Id;
            Assert.Equal(RunStatus.Finished, run.Status);
            Assert.Equal("3", store.GetParams(id)["seed"]);
            Assert.Equal("64", store.GetParams(id)["val-size"]);
            Assert.Contains("val_acc", store.GetLatestMetrics(id).Keys);
            Assert.Equal("fashion-mnist", Assert.Single(store.GetDatasets(id)).Name);
            var artifacts = store.GetArtifacts(id);
            Assert.Contains(artifacts, a => a.Kind == ArtifactKind.ModelFolder && a.Path == Path.Combine(output, "model"));
            var weights = Assert.Single(artifacts, a => a.Kind == ArtifactKind.Weights);
            Assert.Equal(Tracking.ContentFingerprint.Compute(Path.Combine(output, "model", "model.safetensors")).Sha256, weights.Sha256);
            Assert.Equal("3", store.GetEnvironment(id)!.Values["seed.seed"]);
            Assert.Equal(id, Formats.ModelCard.Load(Path.Combine(output, "model", "README.md")).FrontMatter[CardProvenance.RunIdKey]); // the card links its run
        }

        var list = CliRunner.Run("runs", "list", "--tracking-uri", Store);
        Assert.Equal(0, list.Code);
        Assert.Contains(id, list.Out);
        Assert.Contains("FINISHED", list.Out);
        var show = CliRunner.Run("runs", "show", id[..8], "--tracking-uri", Store);
        Assert.Contains("val-size", show.Out);
        Assert.Contains("version.torchsharp", show.Out);

        var reproduce = CliRunner.Run("runs", "reproduce", id, "--tracking-uri", Store);
        Assert.True(reproduce.Code == 0, reproduce.Out + reproduce.Err);
        Assert.Contains("reproduced", reproduce.Out);
        Assert.DoesNotContain("not reproduced", reproduce.Out);
        using (var store = RunStore.Open(Store))
        {
            var rerun = store.ListRuns().Single(r => r.ParentId == id);
            Assert.Equal(output + "-reproduce-" + id[..8], store.GetParams(rerun.Id)["out"]);
            var comparison = RunComparison.Compare(store, id, rerun.Id);
            Assert.True(comparison.SameResults);
            Assert.Contains(comparison.Artifacts, a => a.Kind == ArtifactKind.Weights && a.Left is not null && a.Left == a.Right);
        }
    }
}
