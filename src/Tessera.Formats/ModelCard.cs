using System.Globalization;
using System.Reflection;
using System.Runtime.InteropServices;
using System.Text;

namespace Tessera.Formats;

/// <summary>
/// A Hugging Face style model card: the <c>README.md</c> of a model folder, YAML front matter
/// (<c>library_name</c>, <c>tags</c>, <c>datasets</c>, <c>metrics</c>, optional <c>model-index</c>, …) followed by
/// markdown: a title, a description, then the sections Dataset, Metrics (table), Training hyperparameters (table),
/// Training date (ISO 8601 UTC), Library versions (table) and any further <see cref="Sections"/>.
/// </summary>
/// <remarks>
/// Front matter values may be strings, numbers, booleans, null, lists and string-keyed dictionaries (nested), which
/// are written in block style; strings that YAML would read as something else (or that hold <c>:</c>, <c>#</c>,
/// quotes, leading/trailing spaces, control characters, …) are double-quoted. Markdown bodies must not contain
/// level-2 headings (<c>## </c> lines outside code fences), since those start a new section when parsed.
/// </remarks>
public sealed class ModelCard
{
    const string DatasetHeading = "Dataset";
    const string MetricsHeading = "Metrics";
    const string HyperparametersHeading = "Training hyperparameters";
    const string DateHeading = "Training date";
    const string VersionsHeading = "Library versions";

    /// <summary>Creates a card whose front matter holds <c>library_name: tessera</c>.</summary>
    public ModelCard() => FrontMatter["library_name"] = "tessera";

    /// <summary>The YAML front matter, in order: key → string, number, bool, null, list or dictionary.</summary>
    public OrderedDictionary<string, object?> FrontMatter { get; private set; } = new();

    /// <summary>The level-1 heading (one line).</summary>
    public string Title { get; set; } = "Model card";

    /// <summary>Markdown between the title and the first section, or null.</summary>
    public string? Description { get; set; }

    /// <summary>Markdown of the Dataset section (what the model was trained and evaluated on), or null to omit it.</summary>
    public string? Dataset { get; set; }

    /// <summary>Final metric values by name, shown as a table; empty omits the section.</summary>
    public OrderedDictionary<string, double> Metrics { get; } = new();

    /// <summary>Training hyperparameters by name, shown as a table; see <see cref="SetHyperparameter"/> for numbers.</summary>
    public OrderedDictionary<string, string> Hyperparameters { get; } = new();

    /// <summary>When training finished; written in UTC as ISO 8601 (e.g. <c>2026-11-25T09:13:21Z</c>), or null to omit it.</summary>
    public DateTimeOffset? TrainingDate { get; set; }

    /// <summary>Versions of the software that produced the model (Tessera, TorchSharp, .NET, OS), shown as a table.</summary>
    public OrderedDictionary<string, string> LibraryVersions { get; } = new();

    /// <summary>Further sections after the standard ones: heading → markdown body, in order.</summary>
    public OrderedDictionary<string, string> Sections { get; } = new();

    /// <summary>Sets a hyperparameter, formatting numbers with the invariant culture (round-trippable).</summary>
    public void SetHyperparameter(string name, object value) =>
        Hyperparameters[name] = value switch
        {
            double d => d.ToString("R", CultureInfo.InvariantCulture),
            float f => f.ToString("R", CultureInfo.InvariantCulture),
            bool b => b ? "true" : "false",
            IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
            _ => value.ToString() ?? "",
        };

    /// <summary>
    /// Fills <see cref="LibraryVersions"/> with Tessera's version, TorchSharp's (when given: this assembly does not
    /// reference TorchSharp), the .NET runtime and the operating system.
    /// </summary>
    /// <param name="torchSharpVersion">TorchSharp's version as the caller sees it, or null to leave it out.</param>
    public void CaptureLibraryVersions(string? torchSharpVersion = null)
    {
        var asm = typeof(ModelCard).Assembly;
        string tessera = asm.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion.Split('+')[0]
            ?? asm.GetName().Version?.ToString() ?? "unknown";
        LibraryVersions["Tessera"] = tessera;
        if (torchSharpVersion is not null) LibraryVersions["TorchSharp"] = torchSharpVersion;
        LibraryVersions[".NET runtime"] = RuntimeInformation.FrameworkDescription;
        LibraryVersions["OS"] = $"{RuntimeInformation.OSDescription} ({RuntimeInformation.OSArchitecture})";
    }

    /// <summary>Renders the card: front matter between <c>---</c> lines, then the markdown sections.</summary>
    /// <exception cref="ArgumentException">A front matter value has an unsupported type; the message names the key.</exception>
    public string ToMarkdown()
    {
        var sb = new StringBuilder();
        if (FrontMatter.Count > 0)
        {
            sb.Append("---\n");
            FrontMatterYaml.WriteMapping(sb, FrontMatter, 0);
            sb.Append("---\n\n");
        }
        sb.Append("# ").Append(OneLine(Title)).Append("\n\n");
        if (!string.IsNullOrWhiteSpace(Description)) sb.Append(Normalize(Description)).Append("\n\n");
        if (!string.IsNullOrWhiteSpace(Dataset)) Section(sb, DatasetHeading, Normalize(Dataset));
        if (Metrics.Count > 0)
            Section(sb, MetricsHeading, Table("Metric", "Value", Metrics.Select(kv => (kv.Key, kv.Value.ToString("R", CultureInfo.InvariantCulture)))));
        if (Hyperparameters.Count > 0)
            Section(sb, HyperparametersHeading, Table("Hyperparameter", "Value", Hyperparameters.Select(kv => (kv.Key, kv.Value))));
        if (TrainingDate is { } date)
            Section(sb, DateHeading, date.ToUniversalTime().ToString("yyyy-MM-dd'T'HH:mm:ss.FFFFFFF'Z'", CultureInfo.InvariantCulture));
        if (LibraryVersions.Count > 0)
            Section(sb, VersionsHeading, Table("Library", "Version", LibraryVersions.Select(kv => (kv.Key, kv.Value))));
        foreach (var (heading, body) in Sections) Section(sb, OneLine(heading), Normalize(body));
        return sb.ToString().TrimEnd('\n') + "\n";
    }

    /// <summary>Writes <see cref="ToMarkdown"/> to <paramref name="path"/> atomically (temporary file, then rename).</summary>
    public void Save(string path) => AtomicFile.WriteAllText(path, ToMarkdown());

    /// <summary>Reads and parses a model card file; errors name the file and line.</summary>
    /// <exception cref="TesseraFormatException">The front matter is malformed.</exception>
    public static ModelCard Load(string path) => Parse(File.ReadAllText(path), path);

    /// <summary>
    /// Parses a model card: the front matter (the YAML subset <see cref="ToMarkdown"/> writes, plus flow lists and
    /// comments), the title, description and sections. Standard sections whose tables do not parse are kept as
    /// plain <see cref="Sections"/>.
    /// </summary>
    /// <param name="markdown">The README.md text.</param>
    /// <param name="sourceName">Name used in error messages (a path), or null.</param>
    /// <exception cref="TesseraFormatException">The front matter is malformed; the message names the line.</exception>
    public static ModelCard Parse(string markdown, string? sourceName = null)
    {
        var lines = markdown.TrimStart('\uFEFF').Replace("\r\n", "\n").Split('\n');
        var card = new ModelCard();
        card.FrontMatter = new();
        int i = 0;
        if (lines.Length > 0 && lines[0].TrimEnd() == "---")
        {
            int end = Array.FindIndex(lines, 1, l => l.TrimEnd() is "---" or "...");
            if (end < 0) throw new TesseraFormatException(sourceName, "front matter line 1: opening '---' has no closing '---'");
            card.FrontMatter = FrontMatterYaml.Parse(lines[1..end], 2, sourceName);
            i = end + 1;
        }
        card.ParseBody(lines.AsSpan(i));
        return card;
    }

    void ParseBody(ReadOnlySpan<string> lines)
    {
        string? heading = null;
        var body = new List<string>();
        bool inFence = false, titled = false;
        foreach (string line in lines)
        {
            if (line.TrimStart().StartsWith("```", StringComparison.Ordinal)) inFence = !inFence;
            if (!inFence && !titled && heading is null && line.StartsWith("# ", StringComparison.Ordinal) && body.All(string.IsNullOrWhiteSpace))
            {
                Title = line[2..].Trim();
                titled = true;
                body.Clear();
                continue;
            }
            if (!inFence && line.StartsWith("## ", StringComparison.Ordinal))
            {
                Flush(heading, body);
                heading = line[3..].Trim();
                body.Clear();
                continue;
            }
            body.Add(line);
        }
        Flush(heading, body);
    }

    void Flush(string? heading, List<string> bodyLines)
    {
        string body = string.Join('\n', bodyLines).Trim('\n', ' ');
        if (heading is null) { Description = body.Length > 0 ? body : null; return; }
        bool parsed = heading switch
        {
            DatasetHeading => Set(() => Dataset = body),
            MetricsHeading => TryTable(body, out var m) && m.All(r => double.TryParse(r.Value, NumberStyles.Float, CultureInfo.InvariantCulture, out _))
                && Set(() => { foreach (var (k, v) in m) Metrics[k] = double.Parse(v, NumberStyles.Float, CultureInfo.InvariantCulture); }),
            HyperparametersHeading => TryTable(body, out var h) && Set(() => { foreach (var (k, v) in h) Hyperparameters[k] = v; }),
            VersionsHeading => TryTable(body, out var v) && Set(() => { foreach (var (k, val) in v) LibraryVersions[k] = val; }),
            DateHeading => DateTimeOffset.TryParse(body, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out var d)
                && Set(() => TrainingDate = d),
            _ => false,
        };
        if (!parsed) Sections[heading] = body;
    }

    static bool Set(Action set) { set(); return true; }

    static void Section(StringBuilder sb, string heading, string body) =>
        sb.Append("## ").Append(heading).Append("\n\n").Append(body).Append("\n\n");

    static string Table(string keyHeader, string valueHeader, IEnumerable<(string Key, string Value)> rows)
    {
        var sb = new StringBuilder().Append("| ").Append(keyHeader).Append(" | ").Append(valueHeader).Append(" |\n|---|---|");
        foreach (var (k, v) in rows) sb.Append("\n| ").Append(Cell(k)).Append(" | ").Append(Cell(v)).Append(" |");
        return sb.ToString();
    }

    // Markdown tables cannot hold newlines; '|' and '\' are escaped so the cell splits back unambiguously.
    static string Cell(string s) => OneLine(s).Replace("\\", "\\\\").Replace("|", "\\|");

    static bool TryTable(string body, out List<(string Key, string Value)> rows)
    {
        rows = [];
        var lines = body.Split('\n');
        if (lines.Length < 2 || !lines[1].Replace(" ", "").StartsWith("|-", StringComparison.Ordinal)) return false;
        foreach (var line in lines.Skip(2))
        {
            var cells = SplitRow(line);
            if (cells is not { Count: 2 }) return false;
            rows.Add((cells[0], cells[1]));
        }
        return true;
    }

    static List<string>? SplitRow(string line)
    {
        line = line.Trim();
        if (line.Length < 2 || line[0] != '|' || line[^1] != '|') return null;
        var cells = new List<string>();
        var cell = new StringBuilder();
        for (int i = 1; i < line.Length; i++)
        {
            char c = line[i];
            if (c == '\\' && i + 1 < line.Length && line[i + 1] is '|' or '\\') { cell.Append(line[++i]); continue; }
            if (c == '|') { cells.Add(cell.ToString().Trim()); cell.Clear(); continue; }
            cell.Append(c);
        }
        return cells;
    }

    static string OneLine(string s) => s.Replace("\r\n", " ").Replace('\n', ' ').Replace('\r', ' ').Trim();

    static string Normalize(string s) => s.Replace("\r\n", "\n").Trim('\n', ' ');
}
