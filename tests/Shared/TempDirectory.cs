namespace Tessera.Tests.Shared;

/// <summary>A fresh directory under the system temp folder, deleted with its contents on dispose.</summary>
internal sealed class TempDirectory : IDisposable
{
    /// <summary>Creates the directory; its name starts with <paramref name="prefix"/>.</summary>
    public TempDirectory(string prefix = "tessera-") => Path = Directory.CreateTempSubdirectory(prefix).FullName;

    /// <summary>The directory's full path.</summary>
    public string Path { get; }

    /// <summary>The path of <paramref name="name"/> inside the directory.</summary>
    public string File(string name) => System.IO.Path.Combine(Path, name);

    /// <summary>Deletes the directory; a file still held open elsewhere leaves it behind rather than failing the test.</summary>
    public void Dispose()
    {
        try { Directory.Delete(Path, recursive: true); }
        catch (IOException) { }
    }
}
