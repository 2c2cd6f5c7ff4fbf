using Tessera.Recipes;
using Tessera.Tests.Shared;

namespace Tessera.Tests.Recipes;

public class RunOutputTests
{
    static string MakeOldRun(TempDirectory temp)
    {
        string run = temp.File("run");
        Directory.CreateDirectory(Path.Combine(run, "checkpoints", "epoch=1-step=9"));
        Directory.CreateDirectory(Path.Combine(run, "events"));
        File.WriteAllText(Path.Combine(run, "metrics.csv"), "step,loss\n1,0.5\n");
        File.WriteAllText(Path.Combine(run, "notes.txt"), "mine");
        return run;
    }

    [Fact]
    public void A_folder_holding_a_run_is_refused_without_resume_or_overwrite()
    {
        using var temp = new TempDirectory();
        string run = MakeOldRun(temp);
        var e = Assert.Throws<ArgumentException>(() => RunOutput.Prepare(run, resume: false, overwrite: false));
        Assert.Contains("--resume", e.Message);
        Assert.Contains("--overwrite", e.Message);
        Assert.True(File.Exists(Path.Combine(run, "metrics.csv")));
    }

    [Fact]
    public void Overwrite_removes_the_old_runs_files_and_nothing_else()
    {
        using var temp = new TempDirectory();
        string run = MakeOldRun(temp);
        Assert.Equal(Path.GetFullPath(run), RunOutput.Prepare(run, resume: false, overwrite: true));
        Assert.False(Directory.Exists(Path.Combine(run, "checkpoints")));
        Assert.False(Directory.Exists(Path.Combine(run, "events")));
        Assert.False(File.Exists(Path.Combine(run, "metrics.csv")));
        Assert.Equal("mine", File.ReadAllText(Path.Combine(run, "notes.txt")));
    }

    [Fact]
    public void Resume_keeps_everything_and_empty_or_new_folders_are_fine()
    {
        using var temp = new TempDirectory();
        string run = MakeOldRun(temp);
        RunOutput.Prepare(run, resume: true, overwrite: false);
        Assert.True(Directory.Exists(Path.Combine(run, "checkpoints", "epoch=1-step=9")));
        string fresh = temp.File("fresh/nested");
        RunOutput.Prepare(fresh, resume: false, overwrite: false);
        Assert.True(Directory.Exists(fresh));
        RunOutput.Prepare(fresh, resume: false, overwrite: false); // still empty: no earlier run to protect
        Assert.Throws<ArgumentException>(() => RunOutput.Prepare(fresh, resume: true, overwrite: true));
    }
}
