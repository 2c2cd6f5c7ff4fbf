namespace Tessera.Tests.Export;

/// <summary>A fresh directory under /tmp for exported files, deleted on dispose.</summary>
internal sealed class ExportTempDir : IDisposable
{
    public ExportTempDir() => Directory.CreateDirectory(Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "tessera-export-" + Guid.NewGuid().ToString("N")));

    public string Path { get; }

    public string File(string name) => System.IO.Path.Combine(Path, name);

    public void Dispose()
    {
        try { Directory.Delete(Path, recursive: true); } catch (IOException) { }
    }
}
