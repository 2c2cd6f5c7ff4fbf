using Tessera.Formats;

namespace Tessera.Adapters;

/// <summary>How <c>target_modules</c> and <c>modules_to_save</c> select modules by path, and the error when nothing matches.</summary>
internal static class TargetMatcher
{
    static readonly HashSet<string> OutputHeads = new(StringComparer.Ordinal) { "lm_head", "classifier", "score" };

    /// <summary>The output projections PEFT's <c>all-linear</c> leaves out.</summary>
    internal static bool IsOutputHead(string path) => OutputHeads.Contains(path[(path.LastIndexOf('.') + 1)..]);

    internal static bool IsAdapterInternal(string path) =>
        path.Contains(".lora_A", StringComparison.Ordinal) || path.Contains(".lora_B", StringComparison.Ordinal) || path.Contains(".lora_embedding_", StringComparison.Ordinal) || path.Contains(".modules_to_save", StringComparison.Ordinal)
        || path.StartsWith("lora_", StringComparison.Ordinal) || path.StartsWith("modules_to_save", StringComparison.Ordinal);

    internal static bool EndsWithComponent(string path, string target) =>
        path == target || path.EndsWith("." + target, StringComparison.Ordinal);

    internal static bool IsTarget(LoraConfig config, string path) => config.TargetModulesRegex is { } regex
        ? CachedFullMatch(regex).IsMatch(path)
        : config.TargetModules!.Any(t => EndsWithComponent(path, t));

    /// <summary>PEFT's <c>re.fullmatch(target_modules, key)</c>, with the time limit every pattern from a file gets.</summary>
    // One compiled pattern per target_modules string, not one per module path tested.
    static readonly System.Collections.Concurrent.ConcurrentDictionary<string, FileRegex> fullMatches = new(StringComparer.Ordinal);

    static FileRegex CachedFullMatch(string regex) => fullMatches.GetOrAdd(regex, r => FullMatch(r, null));

    internal static FileRegex FullMatch(string regex, string? path) => FileRegex.Create($@"\A(?:{regex})\z", path, $"{LoraConfig.FileName} target_modules");

    internal static string NoMatchMessage(LoraConfig config, IEnumerable<string> paths)
    {
        string wanted = config.TargetModulesRegex is { } r ? $"regular expression \"{r}\"" : $"[{string.Join(", ", config.TargetModules!)}]";
        var names = paths.Select(p => p[(p.LastIndexOf('.') + 1)..]).Where(n => !int.TryParse(n, out _)).Distinct().ToList();
        var probes = config.TargetModules ?? [config.TargetModulesRegex!];
        var similar = names
            .Select(n => (Name: n, Distance: probes.Min(t => Levenshtein(t, n))))
            .OrderBy(x => x.Distance).ThenBy(x => x.Name, StringComparer.Ordinal)
            .Take(8).Select(x => x.Name);
        return $"target_modules {wanted} matches no module of the model; similar module names: {string.Join(", ", similar)}";
    }

    internal static int Levenshtein(string a, string b)
    {
        var row = new int[b.Length + 1];
        for (int j = 0; j <= b.Length; j++) row[j] = j;
        for (int i = 1; i <= a.Length; i++)
        {
            int diagonal = row[0];
            row[0] = i;
            for (int j = 1; j <= b.Length; j++)
            {
                int above = row[j];
                row[j] = Math.Min(Math.Min(row[j] + 1, row[j - 1] + 1), diagonal + (a[i - 1] == b[j - 1] ? 0 : 1));
                diagonal = above;
            }
        }
        return row[b.Length];
    }
}
