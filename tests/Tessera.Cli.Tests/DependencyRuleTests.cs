using System.Reflection.Metadata;
using System.Reflection.PortableExecutable;

namespace Tessera.Cli.Tests;

/// <summary>
/// DESIGN.md's dependency rule: Formats, Text, Hub, Tracking, Runtime, Diffusion, Serving and Dashboard never reference TorchSharp, not even
/// through an assembly they reference. The CLI references every Tessera assembly, so this test's output folder
/// holds them all; their metadata is read from there without loading them.
/// </summary>
public class DependencyRuleTests
{
    static readonly string[] torchSharpFree = ["Tessera.Formats", "Tessera.Hub", "Tessera.Tracking", "Tessera.Runtime", "Tessera.Diffusion", "Tessera.LoadTest", "Tessera.Dashboard"];

    // Checked as soon as their project exists in src/ (Text is being split out of Tessera; Serving is planned).
    static readonly string[] torchSharpFreeOnceCreated = ["Tessera.Text", "Tessera.Serving"];

    [Fact]
    public void TorchSharp_free_assemblies_reference_no_TorchSharp_assembly_even_transitively()
    {
        string src = Path.Combine(RepoRoot(), "src");
        string[] names = [.. torchSharpFree, .. torchSharpFreeOnceCreated.Where(n => File.Exists(Path.Combine(src, n, n + ".csproj")))];
        foreach (string name in names)
        {
            Assert.True(File.Exists(AssemblyPath(name)), $"{AssemblyPath(name)} is missing: Tessera.Cli (and so this test) must reference {name}");
            IReadOnlyList<string>? chain = PathToTorchSharp(name, []);
            Assert.True(chain is null, $"{name} references TorchSharp: {string.Join(" -> ", chain ?? [])}");
        }
    }

    [Fact]
    public void The_reference_walk_finds_TorchSharp_where_it_is_referenced()
    {
        // Guards the test above: the same walk finds Tessera's direct reference and the CLI's.
        Assert.Equal(new[] { "Tessera", "TorchSharp" }, PathToTorchSharp("Tessera", []));
        List<string>? cli = PathToTorchSharp("Tessera.Cli", []);
        Assert.NotNull(cli);
        Assert.Equal("Tessera.Cli", cli[0]);
        Assert.Equal("TorchSharp", cli[^1]);
    }

    /// <summary>The references from <paramref name="name"/> down to a TorchSharp assembly, or null when there is no such path.</summary>
    static List<string>? PathToTorchSharp(string name, HashSet<string> visited)
    {
        if (name.StartsWith("TorchSharp", StringComparison.OrdinalIgnoreCase)) return [name];
        // Only assemblies that ship in the output folder can lead to TorchSharp; the framework's cannot.
        if (!visited.Add(name) || !File.Exists(AssemblyPath(name))) return null;
        foreach (string reference in ReferencedAssemblies(AssemblyPath(name)))
        {
            if (PathToTorchSharp(reference, visited) is { } rest) return [name, .. rest];
        }
        return null;
    }

    static List<string> ReferencedAssemblies(string path)
    {
        using var pe = new PEReader(File.OpenRead(path));
        MetadataReader metadata = pe.GetMetadataReader();
        return [.. metadata.AssemblyReferences.Select(h => metadata.GetString(metadata.GetAssemblyReference(h).Name))];
    }

    static string AssemblyPath(string name) => Path.Combine(AppContext.BaseDirectory, name + ".dll");

    static string RepoRoot()
    {
        for (string? d = AppContext.BaseDirectory; d is not null; d = Path.GetDirectoryName(d))
        {
            if (File.Exists(Path.Combine(d, "Tessera.slnx"))) return d;
        }
        throw new InvalidOperationException($"no Tessera.slnx above {AppContext.BaseDirectory}");
    }
}
