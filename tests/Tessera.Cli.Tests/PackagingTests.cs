using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;
using Tessera.Data;
using Tessera.Tests.Shared;
using Tessera.Text;
using Tessera.Text.Generation;
using Tessera.Transformers;
using TorchSharp;

namespace Tessera.Cli.Tests;

/// <summary>
/// The newcomer path of README.md, followed literally: `dotnet pack` the repository into a local folder, create a fresh
/// console app that references the packages through a nuget.config, paste each ```csharp block of README.md as its
/// Program.cs, build and run it; and install the CLI package as a .NET tool and run it.
/// </summary>
/// <remarks>
/// The packages get a unique prerelease version, so a copy of an older pack in the machine's NuGet cache is never
/// used; the cache entries of that version are deleted afterwards. The repository builds into a temp folder
/// (ArtifactsPath), so packing leaves the working tree's bin/ and obj/ alone.
/// </remarks>
[Trait("Category", "Slow")]
public sealed class PackagingTests(PackagingTests.Packages packages, ITestOutputHelper log) : IClassFixture<PackagingTests.Packages>
{
    private const string GenerationPrompt = "You will";

    [Fact]
    public void Every_other_readme_csharp_block_builds_as_Program_cs()
    {
        var blocks = Packages.ReadmeCSharpBlocks();
        Assert.Single(blocks, IsGenerationExample);
        Assert.Single(blocks, IsQuickStart);
        // The two above are built and run by the tests below; any other block must at least compile as a Program.cs.
        foreach (var block in blocks.Where(b => !IsGenerationExample(b) && !IsQuickStart(b)))
            packages.BuildConsoleApp(block);
    }

    [Fact]
    public void Readme_generation_example_runs_in_a_fresh_console_app_and_matches_the_library()
    {
        string program = Packages.ReadmeCSharpBlocks().Single(IsGenerationExample);
        log.WriteLine($"dotnet pack of Tessera.slnx took {packages.PackSeconds:F0} s");
        var watch = Stopwatch.StartNew();
        string stdout = packages.BuildAndRunInConsoleApp(program);
        log.WriteLine($"build + run of the example took {watch.Elapsed.TotalSeconds:F0} s");

        // The example wrote its tiny model under TMPDIR; the library of this repository, loaded in this process,
        // must print the same completion for the same folder and settings.
        string folder = Path.Combine(packages.AppTemp, "tessera-tiny-gpt2");
        Assert.True(File.Exists(Path.Combine(folder, "model.safetensors")), $"the example wrote no model into {folder}");
        using var model = AutoModelForCausalLM.FromPretrained(folder);
        var tok = AutoTokenizer.FromPretrained(folder);
        var settings = GenerationConfig.Load(folder) with { DoSample = true, TopP = 0.9, MaxNewTokens = 20, Seed = 1 };
        var expected = model.Generate(tok, GenerationPrompt, settings);
        Assert.True(expected.TokenIds.Count > 0, "the reference generated no tokens");
        Assert.Equal(GenerationPrompt + expected.Text + "\n", stdout);
    }

    [Fact]
    public void Readme_quick_start_trains_in_a_fresh_console_app()
    {
        Requires.FashionMnist();
        string program = Packages.ReadmeCSharpBlocks().Single(IsQuickStart);
        var watch = Stopwatch.StartNew();
        string stdout = packages.BuildAndRunInConsoleApp(program);
        log.WriteLine($"build + run of the quick start took {watch.Elapsed.TotalSeconds:F0} s");

        var line = stdout.Split('\n').LastOrDefault(l => l.StartsWith("val_acc ", StringComparison.Ordinal));
        Assert.True(line is not null, $"no 'val_acc' line in the output:\n{stdout}");
        double accuracy = double.Parse(line["val_acc ".Length..], CultureInfo.InvariantCulture);
        Assert.True(accuracy >= 0.80, $"val_acc {accuracy} after the quick start's training"); // 10 classes: a guess is 0.10
        Assert.True(Directory.EnumerateFileSystemEntries(Path.Combine(packages.AppDirectory, "runs", "mlp", "checkpoints")).Any(),
            "the ModelCheckpoint callback wrote nothing");
    }

    [Fact]
    public void Cli_package_installs_as_the_tessera_tool_and_loads_libtorch()
    {
        string toolPath = Path.Combine(packages.Root, "tools");
        Packages.RunChecked(Packages.Dotnet, ["tool", "install", "--tool-path", toolPath, "--add-source", packages.PackageFolder,
            "--version", packages.Version, "Tessera.Cli"], packages.Root);
        string tessera = Path.Combine(toolPath, "tessera");
        Assert.True(File.Exists(tessera), $"no {tessera} after dotnet tool install");

        string help = Packages.RunChecked(tessera, ["--help"], packages.Root);
        foreach (var command in new[] { "train", "generate", "export", "quantize", "finetune" })
            Assert.Contains(command, help);

        // A command that runs libtorch: the tool's own copy of libLibTorchSharp must load on this system (on Debian 12
        // only after the packaged GLIBCXX fix). Greedy generation must equal the library's in this process.
        string folder = Path.Combine(packages.Root, "tool-model");
        torch.manual_seed(3);
        using (var untrained = new Gpt2LMHeadModel(new Gpt2Config { VocabSize = ByteVocabulary.VocabSize, NPositions = 64, NEmbd = 32, NLayer = 2, NHead = 4 }))
            untrained.SavePretrained(folder);
        ByteVocabulary.WriteTokenizerFiles(folder, modelMaxLength: 64);
        using var model = AutoModelForCausalLM.FromPretrained(folder);
        var expected = model.Generate(AutoTokenizer.FromPretrained(folder), "Hi", new GenerationConfig { MaxNewTokens = 8, DoSample = false });

        string output = Packages.RunChecked(tessera, ["generate", folder, "--prompt", "Hi", "--max-new-tokens", "8", "--greedy"], packages.Root);
        Assert.Contains("Hi" + expected.Text, output);
    }

    private static bool IsGenerationExample(string block) => block.Contains("GenerateStream(", StringComparison.Ordinal);

    private static bool IsQuickStart(string block) => block.Contains("FashionMnist.Load(", StringComparison.Ordinal);

    /// <summary>
    /// Packs the repository once for the class into a temp folder with a unique version, and prepares a fresh console
    /// app that references Tessera and TorchSharp-cpu from that folder plus the machine's usual NuGet sources.
    /// </summary>
    public sealed class Packages : IDisposable
    {
        private static readonly string[] PackageIds = ["Tessera", "Tessera.Formats", "Tessera.Text", "Tessera.Hub", "Tessera.Tracking", "Tessera.Runtime", "Tessera.Cli"];
        private readonly TempDirectory temp = new("tessera-pack-");

        /// <summary>Packs every project of Tessera.slnx and creates the console app (restored).</summary>
        public Packages()
        {
            Version = $"0.1.0-test.{DateTimeOffset.UtcNow.ToUnixTimeSeconds()}.{Environment.ProcessId}";
            PackageFolder = Path.Combine(Root, "packages");
            AppDirectory = Path.Combine(Root, "MyApp");
            AppTemp = Path.Combine(Root, "app-tmp");
            Directory.CreateDirectory(AppTemp);
            try
            {
                var watch = Stopwatch.StartNew();
                RunChecked(Dotnet, ["pack", Path.Combine(RepositoryRoot, "Tessera.slnx"), "-c", "Release", "-o", PackageFolder,
                    $"-p:Version={Version}", "-p:UseArtifactsOutput=true", $"-p:ArtifactsPath={Path.Combine(Root, "build")}",
                    "--disable-build-servers", "-nologo"], RepositoryRoot);
                PackSeconds = watch.Elapsed.TotalSeconds;
                foreach (var id in PackageIds)
                    if (!File.Exists(Path.Combine(PackageFolder, $"{id}.{Version}.nupkg")))
                        throw new InvalidOperationException($"dotnet pack did not write {id}.{Version}.nupkg into {PackageFolder}");

                // As README.md's "Use Tessera from your own project" says.
                RunChecked(Dotnet, ["new", "console", "-o", AppDirectory, "--no-restore"], Root);
                File.WriteAllText(Path.Combine(AppDirectory, "nuget.config"), $"""
                    <configuration>
                      <packageSources>
                        <add key="tessera-local" value="{PackageFolder}" />
                      </packageSources>
                    </configuration>
                    """);
                RunChecked(Dotnet, ["add", "package", "Tessera", "--version", Version], AppDirectory);
                RunChecked(Dotnet, ["add", "package", "TorchSharp-cpu", "--version", "0.107.0"], AppDirectory);
            }
            catch
            {
                Dispose();
                throw;
            }
        }

        /// <summary>The temp folder holding everything this fixture makes.</summary>
        public string Root => temp.Path;

        /// <summary>The unique version the packages were built with.</summary>
        public string Version { get; }

        /// <summary>The folder of the .nupkg files.</summary>
        public string PackageFolder { get; }

        /// <summary>The console app's project folder (also its working directory when run).</summary>
        public string AppDirectory { get; }

        /// <summary>TMPDIR of the console app when run.</summary>
        public string AppTemp { get; }

        /// <summary>How long `dotnet pack` took.</summary>
        public double PackSeconds { get; }

        /// <summary>The dotnet executable running this test (or the one on PATH).</summary>
        public static string Dotnet => Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host ? host : "dotnet";

        /// <summary>The repository root (the folder holding Tessera.slnx above this test's output).</summary>
        public static string RepositoryRoot
        {
            get
            {
                for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
                    if (File.Exists(Path.Combine(dir.FullName, "Tessera.slnx"))) return dir.FullName;
                throw new InvalidOperationException($"no Tessera.slnx above {AppContext.BaseDirectory}");
            }
        }

        /// <summary>The contents of every ```csharp block of README.md, in order.</summary>
        public static IReadOnlyList<string> ReadmeCSharpBlocks() =>
            [.. Regex.Matches(File.ReadAllText(Path.Combine(RepositoryRoot, "README.md")), @"^```csharp\r?\n(.*?)^```", RegexOptions.Singleline | RegexOptions.Multiline)
                .Select(m => m.Groups[1].Value)];

        /// <summary>Writes <paramref name="program"/> as the app's Program.cs, builds it and runs it; returns its stdout.</summary>
        public string BuildAndRunInConsoleApp(string program)
        {
            string dll = BuildConsoleApp(program);
            return RunChecked(Dotnet, [dll], AppDirectory, new Dictionary<string, string> { ["TMPDIR"] = AppTemp });
        }

        /// <summary>Writes <paramref name="program"/> as the app's Program.cs and builds it; returns the app's dll.</summary>
        public string BuildConsoleApp(string program)
        {
            File.WriteAllText(Path.Combine(AppDirectory, "Program.cs"), program);
            RunChecked(Dotnet, ["build", "-c", "Release", "--disable-build-servers", "-nologo"], AppDirectory);
            return Path.Combine(AppDirectory, "bin", "Release", "net10.0", "MyApp.dll");
        }

        /// <summary>Runs a program to completion (30 minutes at most); a non-zero exit fails with its output.</summary>
        public static string RunChecked(string fileName, IReadOnlyList<string> args, string workingDirectory, IReadOnlyDictionary<string, string>? environment = null)
        {
            var info = new ProcessStartInfo(fileName)
            {
                WorkingDirectory = workingDirectory,
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                StandardOutputEncoding = Encoding.UTF8,
                StandardErrorEncoding = Encoding.UTF8,
            };
            foreach (var arg in args) info.ArgumentList.Add(arg);
            // The test host runs under MSBuild/VSTest; a nested build must not inherit their settings.
            foreach (var key in info.Environment.Keys.Where(k => k.StartsWith("MSBuild", StringComparison.OrdinalIgnoreCase) || k.StartsWith("VSTEST", StringComparison.OrdinalIgnoreCase)).ToList())
                info.Environment.Remove(key);
            info.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
            info.Environment["DOTNET_NOLOGO"] = "1";
            info.Environment["MSBUILDDISABLENODEREUSE"] = "1";
            foreach (var (key, value) in environment ?? new Dictionary<string, string>()) info.Environment[key] = value;

            using var process = Process.Start(info) ?? throw new InvalidOperationException($"could not start {fileName}");
            var stdout = process.StandardOutput.ReadToEndAsync();
            var stderr = process.StandardError.ReadToEndAsync();
            if (!process.WaitForExit(TimeSpan.FromMinutes(30)))
            {
                process.Kill(entireProcessTree: true);
                throw new TimeoutException($"{fileName} {string.Join(' ', args)} ran for more than 30 minutes");
            }
            string output = stdout.Result, errors = stderr.Result;
            if (process.ExitCode != 0)
                throw new InvalidOperationException($"`{fileName} {string.Join(' ', args)}` in {workingDirectory} exited with {process.ExitCode}:\n{output}\n{errors}");
            return output;
        }

        /// <summary>Deletes the temp folder and this version's entries in the NuGet package cache.</summary>
        public void Dispose()
        {
            temp.Dispose();
            string cache = Environment.GetEnvironmentVariable("NUGET_PACKAGES") is { Length: > 0 } custom
                ? custom
                : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");
            foreach (var id in PackageIds)
            {
                string idDir = Path.Combine(cache, id.ToLowerInvariant()), dir = Path.Combine(idDir, Version);
                try
                {
                    if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true);
                    if (Directory.Exists(idDir) && !Directory.EnumerateFileSystemEntries(idDir).Any()) Directory.Delete(idDir);
                }
                catch (IOException) { }
            }
        }
    }
}
