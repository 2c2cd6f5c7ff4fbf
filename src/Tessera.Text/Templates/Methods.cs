using System.Text;

namespace Tessera.Text.Templates;

/// <summary>
/// The Python methods of strings, dicts and lists that chat templates call (<c>content.strip()</c>,
/// <c>message.get('x')</c>, <c>tools.items()</c>, ...). Methods that change a value are not offered, as in Jinja2's
/// immutable sandbox that transformers renders with.
/// </summary>
internal static class Methods
{
    /// <summary>The bound method <paramref name="name"/> of <paramref name="target"/>; null when it has none.</summary>
    public static Callable? Get(object? target, string name) => target switch
    {
        string s => StringMethod(s, name),
        Dictionary<object, object?> d => DictMethod(d, name),
        List<object?> l => ListMethod(l, name),
        _ => null,
    };

    static Callable M(string name, Func<Interpreter, List<object?>, Dictionary<string, object?>, object?> f) => new(name, f);

    static string? OptString(List<object?> args, int i, string method) => i >= args.Count || args[i] is null ? null
        : args[i] as string ?? throw new TemplateRuntimeError($"{method}() argument must be str or None, not {Values.TypeName(args[i])}");

    static Callable? StringMethod(string s, string name) => name switch
    {
        "strip" => M(name, (_, a, _) => OptString(a, 0, name) is string c ? s.Trim(c.ToCharArray()) : s.Trim(Lexer.PyWhitespace)),
        "lstrip" => M(name, (_, a, _) => OptString(a, 0, name) is string c ? s.TrimStart(c.ToCharArray()) : s.TrimStart(Lexer.PyWhitespace)),
        "rstrip" => M(name, (_, a, _) => OptString(a, 0, name) is string c ? s.TrimEnd(c.ToCharArray()) : s.TrimEnd(Lexer.PyWhitespace)),
        "upper" => M(name, (_, _, _) => s.ToUpperInvariant()),
        "lower" => M(name, (_, _, _) => s.ToLowerInvariant()),
        "title" => M(name, (_, _, _) => PyTitle(s)),
        "capitalize" => M(name, (_, _, _) => s.Length == 0 ? s : char.ToUpperInvariant(s[0]) + s[1..].ToLowerInvariant()),
        "startswith" => M(name, (_, a, _) => Affix(s, a, name, (x, p) => x.StartsWith(p, StringComparison.Ordinal))),
        "endswith" => M(name, (_, a, _) => Affix(s, a, name, (x, p) => x.EndsWith(p, StringComparison.Ordinal))),
        "split" => M(name, (i, a, k) => Split(i, s, a, k, fromRight: false)),
        "rsplit" => M(name, (i, a, k) => Split(i, s, a, k, fromRight: true)),
        "splitlines" => M(name, (_, _, _) => s.Length == 0 ? new List<object?>() : s.TrimEnd('\n').Split('\n').Select(x => (object?)x.TrimEnd('\r')).ToList()),
        "replace" => M(name, (i, a, _) =>
        {
            if (a.Count < 2 || a[0] is not string old || a[1] is not string neu) throw new TemplateRuntimeError("replace() takes two strings");
            long count = a.Count > 2 && a[2] is long c ? c : -1;
            return i.Checked(Replace(s, old, neu, count));
        }),
        "find" => M(name, (_, a, _) => (long)(a.Count > 0 && a[0] is string t ? s.IndexOf(t, StringComparison.Ordinal) : throw new TemplateRuntimeError("find() takes a string"))),
        "rfind" => M(name, (_, a, _) => (long)(a.Count > 0 && a[0] is string t ? s.LastIndexOf(t, StringComparison.Ordinal) : throw new TemplateRuntimeError("rfind() takes a string"))),
        "count" => M(name, (_, a, _) => a.Count > 0 && a[0] is string t ? (long)(t.Length == 0 ? s.Length + 1 : (s.Length - s.Replace(t, "", StringComparison.Ordinal).Length) / t.Length) : throw new TemplateRuntimeError("count() takes a string")),
        "join" => M(name, (i, a, _) => a.Count == 1 ? i.Checked(string.Join(s, Values.Iterate(a[0]).Select(x => x as string ?? throw new TemplateRuntimeError($"sequence item: expected str instance, {Values.TypeName(x)} found")))) : throw new TemplateRuntimeError("join() takes one argument")),
        "isdigit" => M(name, (_, _, _) => s.Length > 0 && s.All(char.IsDigit)),
        "isalpha" => M(name, (_, _, _) => s.Length > 0 && s.All(char.IsLetter)),
        "isspace" => M(name, (_, _, _) => s.Length > 0 && s.AsSpan().IndexOfAnyExcept(Lexer.PyWhitespace) < 0),
        "isupper" => M(name, (_, _, _) => s.Any(char.IsLetter) && !s.Any(char.IsLower)),
        "islower" => M(name, (_, _, _) => s.Any(char.IsLetter) && !s.Any(char.IsUpper)),
        _ => null,
    };

    static bool Affix(string s, List<object?> a, string name, Func<string, string, bool> test) => a.Count > 0 ? a[0] switch
    {
        string p => test(s, p),
        object?[] t => t.Any(x => x is string p ? test(s, p) : throw new TemplateRuntimeError($"{name}() tuple items must be str")),
        _ => throw new TemplateRuntimeError($"{name}() first arg must be str or a tuple of str, not {Values.TypeName(a[0])}"),
    } : throw new TemplateRuntimeError($"{name}() takes at least 1 argument");

    static string PyTitle(string s)
    {
        var b = new StringBuilder(s.Length);
        bool previousCased = false;
        foreach (char c in s)
        {
            b.Append(previousCased ? char.ToLowerInvariant(c) : char.ToUpperInvariant(c));
            previousCased = char.IsLetter(c);
        }
        return b.ToString();
    }

    public static string Replace(string s, string old, string neu, long count)
    {
        if (count < 0) return old.Length == 0 ? string.Join(neu, ["", .. s.Select(c => c.ToString()), ""]) : s.Replace(old, neu, StringComparison.Ordinal);
        var b = new StringBuilder();
        int pos = 0;
        for (long n = 0; n < count; n++)
        {
            int i = s.IndexOf(old, pos, StringComparison.Ordinal);
            if (i < 0 || old.Length == 0) break;
            b.Append(s, pos, i - pos).Append(neu);
            pos = i + old.Length;
        }
        return b.Append(s, pos, s.Length - pos).ToString();
    }

    static List<object?> Split(Interpreter interp, string s, List<object?> a, Dictionary<string, object?> k, bool fromRight)
    {
        object? sepArg = a.Count > 0 ? a[0] : k.GetValueOrDefault("sep");
        object? maxArg = a.Count > 1 ? a[1] : k.GetValueOrDefault("maxsplit");
        long max = maxArg is long m ? m : -1;
        if (sepArg is null)
        {
            var words = s.Split(Lexer.PyWhitespace, StringSplitOptions.RemoveEmptyEntries).ToList();
            if (max >= 0 && words.Count > max + 1)
            {
                // Python keeps the rest of the string (from the first word left unsplit) as the last item.
                if (fromRight) throw new TemplateRuntimeError("rsplit() with maxsplit and no separator is not supported");
                string rest = s.TrimStart(Lexer.PyWhitespace);
                var result = new List<object?>();
                for (int i = 0; i < max; i++)
                {
                    int end = rest.IndexOfAny(Lexer.PyWhitespace);
                    result.Add(rest[..end]);
                    rest = rest[end..].TrimStart(Lexer.PyWhitespace);
                }
                result.Add(rest);
                return result;
            }
            return [.. words];
        }
        if (sepArg is not string sep || sep.Length == 0) throw new TemplateRuntimeError("split() separator must be a non-empty string");
        var parts = s.Split(sep);
        if (max < 0 || parts.Length <= max + 1) return interp.Checked(parts.Select(p => (object?)p).ToList());
        if (!fromRight) return [.. parts.Take((int)max), string.Join(sep, parts.Skip((int)max))];
        return [string.Join(sep, parts.Take(parts.Length - (int)max)), .. parts.Skip(parts.Length - (int)max)];
    }

    static Callable? DictMethod(Dictionary<object, object?> d, string name) => name switch
    {
        "items" => M(name, (_, _, _) => d.Select(p => (object?)new object?[] { p.Key, p.Value }).ToList()),
        "keys" => M(name, (_, _, _) => d.Keys.Select(x => (object?)x).ToList()),
        "values" => M(name, (_, _, _) => d.Values.ToList()),
        "get" => M(name, (_, a, _) => a.Count == 0 ? throw new TemplateRuntimeError("get() takes a key")
            : a[0] is not null and not List<object?> and not Dictionary<object, object?> && d.TryGetValue(a[0] is bool b ? (b ? 1L : 0L) : a[0]!, out var v) ? v : a.Count > 1 ? a[1] : null),
        _ => null,
    };

    static Callable? ListMethod(List<object?> l, string name) => name switch
    {
        "index" => M(name, (_, a, _) => a.Count == 1 ? (long)l.FindIndex(x => Values.PyEquals(x, a[0])) is long i && i >= 0 ? i : throw new TemplateRuntimeError($"{Values.Repr(a[0])} is not in list") : throw new TemplateRuntimeError("index() takes one argument")),
        "count" => M(name, (_, a, _) => a.Count == 1 ? (long)l.Count(x => Values.PyEquals(x, a[0])) : throw new TemplateRuntimeError("count() takes one argument")),
        _ => null,
    };
}
