using System.Text;
using System.Text.RegularExpressions;

namespace Tessera.Hub;

/// <summary>fnmatch-style patterns as huggingface_hub's allow/ignore patterns: '*' matches any run (including '/'), '?' one character.</summary>
internal static class GlobPattern
{
    public static Regex Compile(string pattern)
    {
        // A folder pattern means everything below it.
        if (pattern.EndsWith('/')) pattern += "*";
        var sb = new StringBuilder("^");
        foreach (char c in pattern)
            sb.Append(c switch { '*' => ".*", '?' => ".", _ => Regex.Escape(c.ToString()) });
        return new Regex(sb.Append('$').ToString(), RegexOptions.CultureInvariant | RegexOptions.Singleline);
    }

    public static bool Keep(string path, IReadOnlyList<Regex>? allow, IReadOnlyList<Regex>? ignore) =>
        (allow is null || allow.Any(r => r.IsMatch(path))) && (ignore is null || !ignore.Any(r => r.IsMatch(path)));
}
