using Tessera.Build;
using TorchSharp;
using static TorchSharp.torch;

namespace Tessera.Tests.Build;

public class TorchSharpLoadsTests
{
    [Fact]
    public void Freshly_built_test_assembly_initialises_torch_and_runs_backward()
    {
        using var scope = NewDisposeScope();
        var x = tensor(new float[] { 1f, 2f, 3f }, requires_grad: true);
        var loss = (x * x).sum();
        loss.backward();
        Assert.Equal(new float[] { 2f, 4f, 6f }, x.grad!.data<float>().ToArray());
    }

    [Fact]
    public void Output_copy_of_LibTorchSharp_needs_no_missing_glibcxx_version()
    {
        Requires.Linux();
        string? lib = new[] { "libLibTorchSharp.so", "runtimes/linux-x64/native/libLibTorchSharp.so" }
            .Select(p => Path.Combine(AppContext.BaseDirectory, p)).FirstOrDefault(File.Exists);
        Assert.NotNull(lib);
        byte[] bytes = File.ReadAllBytes(lib!);
        var result = ElfVersionNeeds.Weaken(bytes, "GLIBCXX_3.4.32");
        if (!ElfVersionNeeds.SystemLibStdCxxHas("GLIBCXX_3.4.32"))
            Assert.NotEqual(ElfVersionNeeds.Result.Patched, result); // the build already weakened it
    }

    [Fact]
    public void Weaken_patches_pristine_library_once_and_is_idempotent()
    {
        string nugetCopy = Path.Combine(Environment.GetEnvironmentVariable("NUGET_PACKAGES")
            ?? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages"),
            "torchsharp", "0.107.0", "runtimes", "linux-x64", "native", "libLibTorchSharp.so");
        Assert.SkipUnless(File.Exists(nugetCopy), $"no {nugetCopy} (the package layout differs off Linux x64)");
        byte[] bytes = File.ReadAllBytes(nugetCopy);
        byte[] original = (byte[])bytes.Clone();
        Assert.Equal(ElfVersionNeeds.Result.Patched, ElfVersionNeeds.Weaken(bytes, "GLIBCXX_3.4.32"));
        Assert.Equal(1, bytes.Zip(original).Count(p => p.First != p.Second)); // one flag byte, nothing else moves
        Assert.Equal(ElfVersionNeeds.Result.AlreadyWeak, ElfVersionNeeds.Weaken(bytes, "GLIBCXX_3.4.32"));
        Assert.Equal(ElfVersionNeeds.Result.NotRequired, ElfVersionNeeds.Weaken(bytes, "GLIBCXX_9.9.9"));
    }

    [Fact]
    public void Weaken_rejects_non_elf_bytes()
    {
        Assert.Throws<InvalidDataException>(() => ElfVersionNeeds.Weaken(new byte[100], "GLIBCXX_3.4.32"));
    }
}
