using System.ComponentModel;
using System.Diagnostics;
using System.Diagnostics.CodeAnalysis;
using System.Runtime.Intrinsics;

namespace Tessera.Tests.Shared;

/// <summary>
/// Prerequisites of tests that compare against an independent reference or read installed data. A missing one
/// makes the test report itself skipped with a reason naming what to install (xunit's dynamic skip), never passed;
/// <c>scripts/install-deps.sh --test</c> installs all of them, and <c>scripts/test.sh</c> fails on any skip when CI=true.
/// </summary>
internal static class Requires
{
    /// <summary>Where Debian's dataset-fashion-mnist puts the four gzipped IDX files.</summary>
    public const string FashionMnistRoot = "/usr/share/datasets/fashion-mnist";

    /// <summary>Where Debian's fortunes package puts the fortune files.</summary>
    public const string FortunesRoot = "/usr/share/games/fortunes";

    static readonly string[] fashionMnistFiles =
        ["train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"];

    static readonly Lazy<bool> node = new(() =>
    {
        try
        {
            using var p = Process.Start(new ProcessStartInfo("node", "--version") { RedirectStandardOutput = true, RedirectStandardError = true })!;
            p.WaitForExit();
            return p.ExitCode == 0;
        }
        catch (Win32Exception) { return false; }
    });

    /// <summary>
    /// Skips unless <see cref="ReferencePython.Interpreter"/> exists and imports every one of <paramref name="modules"/>
    /// (none: the interpreter alone, for scripts that use only the standard library).
    /// </summary>
    public static void Python(params string[] modules)
    {
        Assert.SkipUnless(ReferencePython.Available,
            $"{ReferencePython.Interpreter} is missing (apt-get install python3, or bash scripts/install-deps.sh --test)");
        foreach (string module in modules)
            Assert.SkipUnless(ReferencePython.Has(module),
                $"{ReferencePython.Interpreter} cannot import {module} (apt-get install {DebianPackageOf(module)}, or bash scripts/install-deps.sh --test)");
    }

    /// <summary>Whether the four Fashion-MNIST files are in <see cref="FashionMnistRoot"/> (for fixtures, which cannot skip).</summary>
    public static bool FashionMnistInstalled => MissingFashionMnistFile() is null;

    /// <summary>Skips unless the Fashion-MNIST files are in <see cref="FashionMnistRoot"/>.</summary>
    public static void FashionMnist()
    {
        string? missing = MissingFashionMnistFile();
        Assert.SkipWhen(missing is not null,
            $"Fashion-MNIST is not installed: no {FashionMnistRoot}/{missing} (apt-get install dataset-fashion-mnist, or bash scripts/install-deps.sh --test)");
    }

    static string? MissingFashionMnistFile() => fashionMnistFiles.FirstOrDefault(f => !File.Exists(Path.Combine(FashionMnistRoot, f)));

    /// <summary>Skips unless the fortune file <paramref name="name"/> is in <see cref="FortunesRoot"/>.</summary>
    public static void Fortunes(string name) =>
        Assert.SkipUnless(File.Exists(Path.Combine(FortunesRoot, name)),
            $"no {FortunesRoot}/{name} (apt-get install fortunes, or bash scripts/install-deps.sh --test)");

    /// <summary>Skips unless <c>node</c> on PATH runs.</summary>
    public static void Node() =>
        Assert.SkipUnless(node.Value, "node is not on PATH (apt-get install nodejs npm, or bash scripts/install-deps.sh --test)");

    /// <summary>Skips when <paramref name="testsJs"/> (tests/js with its npm packages, as found by the caller) is null.</summary>
    public static void TestsJsPackages([NotNull] string? testsJs)
    {
        Assert.SkipWhen(testsJs is null,
            "tests/js/node_modules is missing (npm ci --prefix tests/js, or bash scripts/install-deps.sh --test)");
    }

    /// <summary>Skips unless the CPU runs 512-bit vectors in hardware (AVX-512); nothing to install, the machine lacks it.</summary>
    public static void Avx512() =>
        Assert.SkipUnless(Vector512.IsHardwareAccelerated, "this CPU has no AVX-512 (Vector512.IsHardwareAccelerated is false)");

    /// <summary>Skips unless Open MPI's mpirun and libmpi.so.40 are installed (Debian: openmpi-bin, libopenmpi-dev).</summary>
    public static void Mpi() =>
        Assert.SkipUnless(File.Exists("/usr/bin/mpirun") && System.Runtime.InteropServices.NativeLibrary.TryLoad("libmpi.so.40", out _),
            "Open MPI is not installed (apt-get install openmpi-bin libopenmpi-dev)");

    /// <summary>Skips unless the test runs on Linux.</summary>
    public static void Linux() =>
        Assert.SkipUnless(OperatingSystem.IsLinux(), "Linux only");

    /// <summary>Where Debian's chromium package puts the browser (the dashboard's browser tests drive it headless).</summary>
    public const string ChromiumPath = "/usr/bin/chromium";

    /// <summary>Skips unless Debian's chromium is installed at <see cref="ChromiumPath"/>.</summary>
    public static void Chromium() =>
        Assert.SkipUnless(File.Exists(ChromiumPath), $"no {ChromiumPath} (apt-get install chromium, or bash scripts/install-deps.sh --test)");

    static string DebianPackageOf(string module) => module switch
    {
        "yaml" => "python3-yaml",
        _ => "python3-" + module,
    };
}
