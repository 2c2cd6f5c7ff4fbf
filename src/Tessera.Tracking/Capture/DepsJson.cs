using System.Text.Json;

namespace Tessera.Tracking.Capture;

/// <summary>Reads the resolved package list from an application's <c>*.deps.json</c> (what .NET actually loaded).</summary>
public static class DepsJson
{
    /// <summary>
    /// Packages (name, version) of the first <c>*.deps.json</c> in <paramref name="appDirectory"/> (the entry
    /// assembly's when there are several), sorted by name; empty when there is none.
    /// </summary>
    public static IReadOnlyList<(string Name, string Version)> Packages(string appDirectory)
    {
        string? entry = System.Reflection.Assembly.GetEntryAssembly()?.GetName().Name;
        string? path = entry is not null && File.Exists(Path.Combine(appDirectory, entry + ".deps.json"))
            ? Path.Combine(appDirectory, entry + ".deps.json")
            : Directory.Exists(appDirectory) ? Directory.EnumerateFiles(appDirectory, "*.deps.json").Order(StringComparer.Ordinal).FirstOrDefault() : null;
        return path is null ? [] : Parse(File.ReadAllText(path));
    }

    /// <summary>Packages (name, version) listed with <c>"type": "package"</c> in the <c>libraries</c> section of <paramref name="json"/>.</summary>
    public static IReadOnlyList<(string Name, string Version)> Parse(string json)
    {
        using var document = JsonDocument.Parse(json);
        if (!document.RootElement.TryGetProperty("libraries", out var libraries)) return [];
        var list = new List<(string, string)>();
        foreach (var library in libraries.EnumerateObject())
        {
            if (!library.Value.TryGetProperty("type", out var type) || type.GetString() != "package") continue;
            int slash = library.Name.LastIndexOf('/');
            if (slash > 0) list.Add((library.Name[..slash], library.Name[(slash + 1)..]));
        }
        return [.. list.OrderBy(p => p.Item1, StringComparer.Ordinal)];
    }
}
