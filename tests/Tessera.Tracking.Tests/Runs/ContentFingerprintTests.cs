using System.Diagnostics;

namespace Tessera.Tracking.Tests.Runs;

public sealed class ContentFingerprintTests : IDisposable
{
    readonly TempDirectory temp = new("tessera-fp-");

    public void Dispose() => temp.Dispose();

    [Fact]
    public void A_folder_hash_matches_sha256sum_over_the_sorted_manifest()
    {
        Directory.CreateDirectory(temp.File("data/b"));
        File.WriteAllText(temp.File("data/b/z.txt"), "zzz");
        File.WriteAllText(temp.File("data/B.txt"), "upper");
        File.WriteAllBytes(temp.File("data/a.bin"), [1, 2, 3, 4, 5]);
        var fingerprint = ContentFingerprint.Compute(temp.File("data"));
        Assert.Equal((3 + 5 + 5, 3), (fingerprint.Size, fingerprint.FileCount));
        // The documented recipe, with coreutils: sha256sum of "hash  size  path" lines in C-locale order.
        string script = """
            cd "$1" && find . -type f | sed 's|^\./||' | LC_ALL=C sort | while read -r f; do
              printf '%s  %s  %s\n' "$(sha256sum "$f" | cut -d' ' -f1)" "$(stat -c %s "$f")" "$f"; done | sha256sum | cut -d' ' -f1
            """;
        var psi = new ProcessStartInfo("bash") { RedirectStandardOutput = true };
        psi.ArgumentList.Add("-c");
        psi.ArgumentList.Add(script);
        psi.ArgumentList.Add("bash");
        psi.ArgumentList.Add(temp.File("data"));
        using var process = Process.Start(psi)!;
        string expected = process.StandardOutput.ReadToEnd().Trim();
        process.WaitForExit();
        Assert.Equal(expected, fingerprint.Sha256);
    }

    [Fact]
    public void A_file_hash_is_the_sha256_of_its_bytes()
    {
        File.WriteAllText(temp.File("x"), "abc");
        Assert.Equal("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", ContentFingerprint.Compute(temp.File("x")).Sha256);
    }
}
