using Tessera.Tracking.Runs;

namespace Tessera.Dashboard;

/// <summary>
/// The runs table's filter: space-separated terms that must all match. <c>key=value</c> matches a run with a parameter
/// or tag <c>key</c> equal to <c>value</c> (<c>param.key=value</c> or <c>tag.key=value</c> looks at one kind only);
/// any other term is text found (ignoring case) in the run's name or id.
/// </summary>
sealed class RunFilter
{
    readonly List<(string? Kind, string Key, string Value)> pairs = [];
    readonly List<string> words = [];

    /// <summary>Whether matching needs the runs' parameters.</summary>
    public bool NeedsParams => pairs.Any(p => p.Kind is null or "param");

    public static RunFilter Parse(string? text)
    {
        var filter = new RunFilter();
        foreach (string term in (text ?? "").Split(' ', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            int eq = term.IndexOf('=');
            if (eq <= 0) { filter.words.Add(term); continue; }
            string key = term[..eq], value = term[(eq + 1)..];
            string? kind = null;
            if (key.StartsWith("param.", StringComparison.Ordinal)) (kind, key) = ("param", key["param.".Length..]);
            else if (key.StartsWith("tag.", StringComparison.Ordinal)) (kind, key) = ("tag", key["tag.".Length..]);
            filter.pairs.Add((kind, key, value));
        }
        return filter;
    }

    public bool Matches(RunInfo run, IReadOnlyDictionary<string, string>? parameters, IReadOnlyDictionary<string, string> tags)
    {
        foreach (string word in words)
            if (!run.Name.Contains(word, StringComparison.OrdinalIgnoreCase) && !run.Id.Contains(word, StringComparison.OrdinalIgnoreCase)) return false;
        foreach (var (kind, key, value) in pairs)
        {
            bool param = kind is null or "param" && parameters?.GetValueOrDefault(key) == value;
            bool tag = kind is null or "tag" && tags.GetValueOrDefault(key) == value;
            if (!param && !tag) return false;
        }
        return true;
    }
}
