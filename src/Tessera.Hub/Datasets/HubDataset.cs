using System.Diagnostics.CodeAnalysis;

namespace Tessera.Hub.Datasets;

/// <summary>
/// A dataset in the Hub's layout: a folder (a local one, or a snapshot downloaded with <see cref="LoadAsync"/>) of
/// Parquet, JSON Lines and CSV files, with splits found from the file names the way the Hub and the <c>datasets</c>
/// library find them: the dataset card's <c>configs:</c> when it has them, else the file layout (<c>train.jsonl</c>,
/// <c>test.csv</c>, <c>data/train-00000-of-00002.parquet</c>, <c>data/validation/part.parquet</c>; see <see cref="SplitDiscovery"/>). A single file is a dataset with one
/// <c>train</c> split. Rows are streamed (<see cref="DatasetSplit.ReadBatches"/>); nothing is read when opening.
/// </summary>
/// <example>
/// <code>
/// var data = await HubDataset.LoadAsync("hub:org/reviews@v1.0");        // or a folder, or a .parquet file
/// foreach (var row in data["train"].ReadRows(new("text", DatasetColumnType.String), new("label", DatasetColumnType.Label)))
///     Console.WriteLine($"{row.GetString("label")}: {row.GetString("text")}");
/// </code>
/// </example>
public sealed class HubDataset
{
    /// <summary>The prefix that marks a Hub dataset reference on command lines: <c>hub:org/name[@revision]</c>.</summary>
    public const string HubPrefix = "hub:";

    readonly IReadOnlyList<DatasetSplit> splits;

    HubDataset(string path, IReadOnlyList<DatasetSplit> splits, HubSnapshot? snapshot, string? config = null)
    {
        Path = path;
        this.splits = splits;
        Snapshot = snapshot;
        Config = config;
    }

    /// <summary>The configuration of the dataset card (<c>configs:</c> in README.md) the splits come from; null when found from the file layout.</summary>
    public string? Config { get; }

    /// <summary>The folder or file the dataset was opened from.</summary>
    public string Path { get; }

    /// <summary>The Hub repository and the commit the data came from; null for local data.</summary>
    public HubSnapshot? Snapshot { get; }

    /// <summary>The splits, in the order train, validation, test, then by name.</summary>
    public IReadOnlyList<DatasetSplit> Splits => splits;

    /// <summary>The split called <paramref name="name"/>.</summary>
    /// <exception cref="KeyNotFoundException">No such split; the message lists the splits there are.</exception>
    public DatasetSplit this[string name] => TryGetSplit(name, out var split) ? split
        : throw new KeyNotFoundException($"{Path}: no split \"{name}\"; the dataset has: {string.Join(", ", splits.Select(s => s.Name))}");

    /// <summary>Looks up a split by name.</summary>
    public bool TryGetSplit(string name, [NotNullWhen(true)] out DatasetSplit? split)
    {
        split = splits.FirstOrDefault(s => s.Name == name);
        return split is not null;
    }

    /// <summary>
    /// Opens a local dataset folder, or a single data file as a dataset with one <c>train</c> split. The splits of a
    /// folder come from its dataset card's <c>configs:</c> (README.md front matter, <c>data_files</c> patterns per
    /// split) when it has them, else from the file layout.
    /// </summary>
    /// <param name="path">A folder in the Hub's dataset layout, or a <c>.parquet</c>, <c>.jsonl</c> or <c>.csv</c> file (the last two also gzipped, <c>.jsonl.gz</c>, <c>.csv.gz</c>).</param>
    /// <param name="snapshot">Where the folder came from, when it is a Hub snapshot.</param>
    /// <param name="config">A configuration named in the dataset card; by default the card's default (or first) one.</param>
    /// <exception cref="FileNotFoundException">Nothing at <paramref name="path"/>.</exception>
    /// <exception cref="Tessera.Formats.TesseraFormatException">A file of an unknown format, a folder without data files, a malformed <c>configs:</c>, or a split whose patterns match no file.</exception>
    /// <exception cref="KeyNotFoundException"><paramref name="config"/> is not in the dataset card.</exception>
    public static HubDataset Open(string path, HubSnapshot? snapshot = null, string? config = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        string full = System.IO.Path.GetFullPath(path);
        if (File.Exists(full))
        {
            if (TryFormatOf(full) is null)
                throw new Tessera.Formats.TesseraFormatException(full, $"not a dataset file: expected {Extensions}");
            return new HubDataset(full, [new DatasetSplit("train", [full])], snapshot);
        }
        if (!Directory.Exists(full)) throw new FileNotFoundException($"{path}: no such dataset folder or file", path);

        var options = new EnumerationOptions { RecurseSubdirectories = true, AttributesToSkip = 0, IgnoreInaccessible = true };
        var relative = Directory.EnumerateFiles(full, "*", options)
            .Select(f => System.IO.Path.GetRelativePath(full, f).Replace(System.IO.Path.DirectorySeparatorChar, '/'))
            .Where(r => !r.Split('/').Any(p => p.StartsWith('.') || p.StartsWith("__", StringComparison.Ordinal))) // like datasets: no hidden files
            .Where(r => TryFormatOf(r) is not null)
            .ToList();
        if (relative.Count == 0)
            throw new Tessera.Formats.TesseraFormatException(full, $"no data files in the dataset folder: expected {Extensions} files");
        if (DatasetCardConfigs.Read(full, config) is { } card)
        {
            var fromCard = new List<DatasetSplit>();
            foreach (var (split, patterns) in card.Splits)
            {
                var regexes = patterns.Select(GlobPattern.Compile).ToList();
                var files = relative.Where(r => regexes.Any(x => x.IsMatch(r))).Order(StringComparer.Ordinal).ToList();
                if (files.Count == 0)
                    throw new Tessera.Formats.TesseraFormatException(System.IO.Path.Combine(full, "README.md"),
                        $"configs: \"{card.Name}\": split \"{split}\": no {Extensions} file matches {string.Join(", ", patterns.Select(p => $"'{p}'"))}");
                fromCard.Add(new DatasetSplit(split, [.. files.Select(f => System.IO.Path.Combine([full, .. f.Split('/')]))]));
            }
            return new HubDataset(full, fromCard, snapshot, card.Name);
        }
        var splits = SplitDiscovery.Discover(relative)
            .Select(s => new DatasetSplit(s.Split, [.. s.Files.Select(f => System.IO.Path.Combine([full, .. f.Split('/')]))]))
            .ToList();
        return new HubDataset(full, splits, snapshot);
    }

    /// <summary>
    /// Opens <paramref name="pathOrReference"/>: <c>hub:org/name</c> or <c>hub:org/name@revision</c> is downloaded
    /// (data files and the dataset card only) into the huggingface_hub cache as <c>datasets--org--name</c>, and the
    /// snapshot remembers the commit it resolved to; anything else is a local folder or file (<see cref="Open"/>).
    /// </summary>
    /// <param name="pathOrReference">A folder, a data file, or <c>hub:org/name[@revision]</c>.</param>
    /// <param name="client">The Hub client to download with; by default one configured from the environment (HF_ENDPOINT, HF_TOKEN, HF_HOME, HF_HUB_OFFLINE).</param>
    /// <param name="progress">Download progress.</param>
    /// <param name="config">A configuration named in the dataset card (see <see cref="Open"/>).</param>
    /// <param name="cancellationToken">Cancels the download.</param>
    /// <exception cref="ArgumentException">The text after <c>hub:</c> is not a repository id.</exception>
    /// <exception cref="HubException">The download failed (no such dataset or revision, offline without a cached copy, ...).</exception>
    /// <exception cref="FileNotFoundException">No such local folder or file.</exception>
    public static async Task<HubDataset> LoadAsync(string pathOrReference, HubClient? client = null, IProgress<HubProgress>? progress = null,
        string? config = null, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(pathOrReference);
        if (!TryParseReference(pathOrReference, out var reference)) return Open(pathOrReference, null, config);
        HubClient hub = client ?? new HubClient();
        try
        {
            HubSnapshot snapshot = await hub.DownloadSnapshotAsync(reference.RepoId, RepoType.Dataset, reference.Revision, progress,
                allowPatterns: ["*.parquet", "*.jsonl", "*.jsonl.gz", "*.csv", "*.csv.gz", "README.md"], cancellationToken: cancellationToken).ConfigureAwait(false);
            return Open(snapshot.Folder, snapshot, config);
        }
        finally
        {
            if (client is null) hub.Dispose();
        }
    }

    /// <summary>Parses <c>hub:org/name[@revision]</c>; false for anything without the prefix.</summary>
    /// <exception cref="ArgumentException">The prefix is there but the repository id is not valid.</exception>
    public static bool TryParseReference(string text, [NotNullWhen(true)] out RepoReference? reference)
    {
        reference = null;
        if (!text.StartsWith(HubPrefix, StringComparison.Ordinal)) return false;
        reference = RepoReference.Parse(text[HubPrefix.Length..]);
        return true;
    }

    const string Extensions = ".parquet, .jsonl, .jsonl.gz, .csv or .csv.gz";

    // Parquet compresses inside the file, so only the text formats come gzipped.
    internal static bool IsGzip(string path) => path.EndsWith(".gz", StringComparison.OrdinalIgnoreCase);

    static DatasetFileFormat? TryFormatOf(string path)
    {
        bool gzip = IsGzip(path);
        return System.IO.Path.GetExtension(gzip ? path[..^3] : path).ToLowerInvariant() switch
        {
            ".parquet" when !gzip => DatasetFileFormat.Parquet,
            ".jsonl" => DatasetFileFormat.JsonLines,
            ".csv" => DatasetFileFormat.Csv,
            _ => null,
        };
    }

    internal static DatasetFileFormat FormatOf(string path) => TryFormatOf(path) ?? throw new ArgumentException($"{path}: not a dataset file", nameof(path));
}
