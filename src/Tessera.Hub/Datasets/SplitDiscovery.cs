using System.Text.RegularExpressions;

namespace Tessera.Hub.Datasets;

/// <summary>
/// Assigns data files to splits the way the Hub and the <c>datasets</c> library do when a dataset card names no
/// configuration: first <c>data/{split}-NNNNN-of-NNNNN.*</c> shards (any split name); else a split keyword in a folder
/// name (<c>train/</c>, <c>data/test/</c>); else a split keyword in the file name delimited by non-word characters
/// (<c>train.csv</c>, <c>my_train_file.csv</c>, <c>train-0.parquet</c>, not <c>trainer.csv</c>); else every file is
/// <c>train</c>. Keywords: train|training, validation|valid|val|dev, test|testing|eval|evaluation.
/// </summary>
internal static partial class SplitDiscovery
{
    static readonly (string Split, string[] Keywords)[] keywords =
    [
        ("train", ["train", "training"]),
        ("validation", ["validation", "valid", "dev", "val"]),
        ("test", ["test", "testing", "eval", "evaluation"]),
    ];

    const string Sep = "[-._ 0-9]";

    [GeneratedRegex(@"^data/(?<split>[^/]+?)-[0-9]{5}-of-[0-9]{5}[^/]*$")]
    private static partial Regex ShardPattern();

    /// <summary>Split name -> relative paths ('/'-separated, sorted), splits in the order train, validation, test, then by name.</summary>
    public static IReadOnlyList<(string Split, IReadOnlyList<string> Files)> Discover(IReadOnlyList<string> relativeFiles)
    {
        var sorted = relativeFiles.Order(StringComparer.Ordinal).ToList();

        var sharded = sorted.Select(f => (File: f, Match: ShardPattern().Match(f))).Where(x => x.Match.Success).ToList();
        if (sharded.Count > 0)
            return Ordered(sharded.GroupBy(x => x.Match.Groups["split"].Value, x => x.File));

        foreach (Func<string, Regex> pattern in (Func<string, Regex>[])[InFolderName, InFileName])
        {
            var found = new List<(string Split, string File)>();
            foreach (var (split, words) in keywords)
            {
                var regexes = words.Select(pattern).ToList();
                found.AddRange(sorted.Where(f => regexes.Any(r => r.IsMatch(f))).Select(f => (split, f)));
            }
            if (found.Count > 0) return Ordered(found.GroupBy(x => x.Split, x => x.File));
        }
        return sorted.Count == 0 ? [] : [("train", sorted)];
    }

    // datasets' "{keyword}/**", "{keyword}[sep]*/**", "**[sep/]{keyword}/**", "**[sep/]{keyword}[sep]*/**".
    static Regex InFolderName(string keyword) => new($"^(.*[-._ 0-9/])?{keyword}({Sep}[^/]*)?/.+$", RegexOptions.CultureInvariant);

    // datasets' "**[sep/]{keyword}[sep]*" and "{keyword}[sep]*": the keyword in the file name itself.
    static Regex InFileName(string keyword) => new($"^(.*[-._ 0-9/])?{keyword}{Sep}[^/]*$", RegexOptions.CultureInvariant);

    static List<(string Split, IReadOnlyList<string> Files)> Ordered(IEnumerable<IGrouping<string, string>> groups) =>
        [.. groups
            .OrderBy(g => g.Key switch { "train" => 0, "validation" => 1, "test" => 2, _ => 3 })
            .ThenBy(g => g.Key, StringComparer.Ordinal)
            .Select(g => (g.Key, (IReadOnlyList<string>)[.. g.Distinct().Order(StringComparer.Ordinal)]))];
}
