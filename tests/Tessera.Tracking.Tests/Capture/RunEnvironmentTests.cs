using Tessera.Tracking.Capture;
using Tessera.Tracking.Runs;

namespace Tessera.Tracking.Tests.Capture;

public sealed class RunEnvironmentTests
{
    [Theory]
    [InlineData("HF_TOKEN", true)]
    [InlineData("HUGGING_FACE_HUB_TOKEN", true)]
    [InlineData("MLFLOW_TRACKING_PASSWORD", true)]
    [InlineData("AWS_SECRET_ACCESS_KEY", true)]
    [InlineData("OMP_NUM_THREADS", false)]
    [InlineData("HF_HOME", false)]
    public void Secret_variables_are_recognised(string name, bool secret) => Assert.Equal(secret, RunEnvironment.IsSecret(name));

    [Fact]
    public void Capture_records_versions_machine_and_seeds_and_round_trips_through_json()
    {
        var environment = RunEnvironment.Capture(seeds: new Dictionary<string, string> { ["seed"] = "7" });
        Assert.Equal("7", environment.Values["seed.seed"]);
        Assert.StartsWith(".NET ", environment.Values["version.dotnet"]);
        Assert.Equal(Environment.ProcessorCount.ToString(System.Globalization.CultureInfo.InvariantCulture), environment.Values["cpu.cores"]);
        Assert.True(long.Parse(environment.Values["memory.total_bytes"], System.Globalization.CultureInfo.InvariantCulture) > 0);
        Assert.Contains("package.Microsoft.Data.Sqlite", environment.Values.Keys);
        Assert.Empty(RunEnvironment.FromJson(environment.ToJson()).Diff(environment));
        foreach (var (key, value) in environment.Values.Where(v => v.Key.StartsWith("env.", StringComparison.Ordinal)))
            if (RunEnvironment.IsSecret(key[4..])) Assert.Equal(RunEnvironment.Redacted, value);
    }

    [Fact]
    public void Capture_records_the_git_commit_of_a_repository()
    {
        string? repo = FindRepo();
        Assert.SkipWhen(repo is null, "the tests do not run inside a git checkout");
        var environment = RunEnvironment.Capture(repo);
        Assert.Matches("^[0-9a-f]{40}$", environment.Values["git.commit"]);
        Assert.Contains(environment.Values["git.dirty"], (string[])["true", "false"]);
        Assert.Equal(environment.Values["git.dirty"] == "true", environment.Values.ContainsKey("git.diff"));
    }

    static string? FindRepo()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (Directory.Exists(Path.Combine(dir.FullName, ".git")) || File.Exists(Path.Combine(dir.FullName, ".git"))) return dir.FullName;
        return null;
    }

    [Fact]
    public void Diff_lists_changed_added_and_removed_keys_in_order()
    {
        var a = new RunEnvironment(new Dictionary<string, string> { ["cpu.cores"] = "2", ["version.torchsharp"] = "0.107.0", ["env.OMP_NUM_THREADS"] = "1" });
        var b = new RunEnvironment(new Dictionary<string, string> { ["cpu.cores"] = "16", ["version.torchsharp"] = "0.107.0", ["gpu.0"] = "H200" });
        Assert.Equal([("cpu.cores", "2", "16"), ("env.OMP_NUM_THREADS", "1", null), ("gpu.0", null, "H200")], a.Diff(b).Select(d => (d.Key, d.Mine, d.Theirs)));
    }

    [Fact]
    public void Cpuinfo_gives_the_model_and_the_relevant_flags()
    {
        const string cpuinfo = "processor\t: 0\nmodel name\t: Intel(R) Xeon(R) Platinum 8480+\nflags\t\t: fpu sse4_2 avx avx2 avx512f avx512_vnni avx512_bf16 amx_tile ht\n\nprocessor\t: 1\nmodel name\t: other\n";
        var (model, flags) = CpuInfo.Parse(cpuinfo);
        Assert.Equal("Intel(R) Xeon(R) Platinum 8480+", model);
        Assert.Equal(["amx_tile", "avx", "avx2", "avx512_bf16", "avx512_vnni", "avx512f", "sse4_2"], flags);
    }

    [Fact]
    public void Deps_json_gives_the_resolved_packages_not_projects()
    {
        const string json = """
            { "libraries": {
                "TorchSharp/0.107.0": { "type": "package", "sha512": "x" },
                "Tessera/0.1.0": { "type": "project" },
                "Microsoft.Data.Sqlite/11.0.0": { "type": "package" } } }
            """;
        Assert.Equal([("Microsoft.Data.Sqlite", "11.0.0"), ("TorchSharp", "0.107.0")], DepsJson.Parse(json));
    }

    [Fact]
    public void Compare_reports_environment_differences_between_runs()
    {
        using var temp = new TempDirectory();
        using var store = RunStore.Open(temp.File("runs.db"));
        using var a = store.StartRun();
        using var b = store.StartRun();
        a.LogEnvironment(new RunEnvironment(new Dictionary<string, string> { ["cpu.flags"] = "avx2", ["version.dotnet"] = ".NET 10.0.12" }));
        b.LogEnvironment(new RunEnvironment(new Dictionary<string, string> { ["cpu.flags"] = "avx2 avx512f", ["version.dotnet"] = ".NET 10.0.12" }));
        a.LogMetric("acc", 0.9, 1);
        b.LogMetric("acc", 0.9, 1);
        a.Flush();
        b.Flush();
        var comparison = RunComparison.Compare(store, a.Id, b.Id);
        Assert.Equal([("cpu.flags", "avx2", "avx2 avx512f")], comparison.Environment.Select(e => (e.Key, e.Left, e.Right)));
        Assert.True(comparison.SameResults);
    }
}
