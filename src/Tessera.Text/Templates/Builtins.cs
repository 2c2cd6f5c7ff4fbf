using System.Globalization;
using System.Text;

namespace Tessera.Text.Templates;

/// <summary>Jinja2's filters, tests and globals that chat templates use, with transformers' <c>tojson</c>, <c>raise_exception</c> and <c>strftime_now</c>.</summary>
internal static class Builtins
{
    static readonly HashSet<string> Filters =
    [
        "abs", "attr", "capitalize", "count", "d", "default", "dictsort", "e", "escape", "first", "float", "indent", "int",
        "items", "join", "last", "length", "list", "lower", "map", "max", "min", "reject", "rejectattr", "replace", "reverse",
        "round", "safe", "select", "selectattr", "sort", "string", "sum", "title", "tojson", "trim", "unique", "upper", "wordcount",
    ];

    static readonly HashSet<string> Tests =
    [
        "boolean", "callable", "defined", "divisibleby", "eq", "equalto", "==", "even", "false", "float", "ge", ">=", "gt", ">",
        "greaterthan", "in", "integer", "iterable", "le", "<=", "lessthan", "lower", "lt", "<", "mapping", "ne", "!=", "none", "number",
        "odd", "sameas", "sequence", "string", "true", "undefined", "upper",
    ];

    /// <summary>The most items <c>range()</c> may produce (Jinja2's sandbox has the same bound).</summary>
    const int MaxRange = 100_000;

    public static bool HasFilter(string name) => Filters.Contains(name);

    public static bool HasTest(string name) => Tests.Contains(name);

    static object? Arg(List<object?> args, Dictionary<string, object?> kwargs, int index, string name, object? fallback = null) =>
        index < args.Count ? args[index] : kwargs.TryGetValue(name, out var v) ? v : fallback;

    static string Soft(object? v) => Values.Str(v);

    public static object? Filter(Interpreter interp, string name, object? value, List<object?> args, Dictionary<string, object?> kwargs)
    {
        switch (name)
        {
            case "default" or "d":
            {
                bool boolean = Values.Truthy(Arg(args, kwargs, 1, "boolean", false));
                return value is Undefined || (boolean && !Values.Truthy(value)) ? Arg(args, kwargs, 0, "default_value", "") : value;
            }
            case "length" or "count":
                return value switch
                {
                    string s => (long)Values.Length(s),
                    Undefined => 0L,
                    System.Collections.ICollection c => (long)c.Count,
                    _ => throw new TemplateRuntimeError($"object of type '{Values.TypeName(value)}' has no len()"),
                };
            case "trim":
                return Arg(args, kwargs, 0, "chars") is string chars ? Soft(value).Trim(chars.ToCharArray()) : Soft(value).Trim(Lexer.PyWhitespace);
            case "upper": return Soft(value).ToUpperInvariant();
            case "lower": return Soft(value).ToLowerInvariant();
            case "capitalize": { var s = Soft(value); return s.Length == 0 ? s : char.ToUpperInvariant(s[0]) + s[1..].ToLowerInvariant(); }
            case "title": return Title(Soft(value));
            case "string": return Soft(value);
            case "safe": return value;
            case "e" or "escape": return Escape(Soft(value));
            case "tojson":
            {
                var indent = Arg(args, kwargs, 0, "indent");
                bool sortKeys = Values.Truthy(kwargs.GetValueOrDefault("sort_keys"));
                return interp.Checked(TemplateJson.Dumps(value, indent is long n ? (int)n : null, sortKeys));
            }
            case "first": { var items = Values.Iterate(value); return items.Count > 0 ? items[0] : new Undefined("no first item, sequence was empty"); }
            case "last": { var items = Values.Iterate(value); return items.Count > 0 ? items[^1] : new Undefined("no last item, sequence was empty"); }
            case "list": return Values.Iterate(value).ToList();
            case "reverse": return value is string rs ? Values.FromCodePoints(Values.CodePoints(rs).Reverse()) : Values.Iterate(value).AsEnumerable().Reverse().ToList();
            case "join":
            {
                string separator = Soft(Arg(args, kwargs, 0, "d", ""));
                var attribute = Arg(args, kwargs, 1, "attribute");
                var items = Values.Iterate(value).Select(x => attribute is null ? x : Attribute(interp, x, attribute));
                var b = new StringBuilder();
                bool first = true;
                foreach (var x in items)
                {
                    if (!first) b.Append(separator);
                    first = false;
                    b.Append(Soft(x));
                    if (b.Length > interp.Options.MaxOutputLength) interp.Checked(b.ToString());
                }
                return b.ToString();
            }
            case "replace":
            {
                if (Arg(args, kwargs, 0, "old") is not string old || Arg(args, kwargs, 1, "new") is not string neu) throw new TemplateRuntimeError("replace needs two strings");
                long count = Arg(args, kwargs, 2, "count") is long c ? c : -1;
                return interp.Checked(Methods.Replace(Soft(value), old, neu, count));
            }
            case "int":
            {
                long fallback = Arg(args, kwargs, 0, "default", 0L) is long f ? f : 0;
                return value switch
                {
                    long l => l,
                    bool b => b ? 1L : 0L,
                    double d => double.IsFinite(d) ? (long)Math.Truncate(d) : fallback,
                    string s when long.TryParse(s.Trim(), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long l) => l,
                    string s when double.TryParse(s.Trim(), NumberStyles.Float, CultureInfo.InvariantCulture, out double d) && double.IsFinite(d) => (long)Math.Truncate(d),
                    _ => fallback,
                };
            }
            case "float":
            {
                double fallback = Arg(args, kwargs, 0, "default", 0.0) is object o && Values.IsNumber(o) ? Values.ToDouble(o) : 0;
                return value switch
                {
                    long or bool or double => Values.ToDouble(value),
                    string s when double.TryParse(s.Trim(), NumberStyles.Float, CultureInfo.InvariantCulture, out double d) => d,
                    _ => fallback,
                };
            }
            case "abs":
                return value switch
                {
                    long l => (object)Math.Abs(l),
                    double d => (object)Math.Abs(d),
                    bool b => b ? 1L : 0L,
                    _ => throw new TemplateRuntimeError($"bad operand type for abs(): '{Values.TypeName(value)}'"),
                };
            case "round":
            {
                int precision = Arg(args, kwargs, 0, "precision", 0L) is long p ? (int)p : 0;
                string method = Arg(args, kwargs, 1, "method", "common") as string ?? "common";
                if (!Values.IsNumber(value)) throw new TemplateRuntimeError($"round needs a number, not '{Values.TypeName(value)}'");
                double x = Values.ToDouble(value), scale = Math.Pow(10, precision);
                return method switch
                {
                    "ceil" => Math.Ceiling(x * scale) / scale,
                    "floor" => Math.Floor(x * scale) / scale,
                    _ => Math.Round(x, Math.Clamp(precision, 0, 15), MidpointRounding.ToEven),
                };
            }
            case "items":
                return value switch
                {
                    Dictionary<object, object?> d => d.Select(p => (object?)new object?[] { p.Key, p.Value }).ToList(),
                    Undefined => new List<object?>(),
                    _ => throw new TemplateRuntimeError($"can only get item pairs from a mapping, not '{Values.TypeName(value)}'"),
                };
            case "dictsort":
            {
                if (value is not Dictionary<object, object?> d) throw new TemplateRuntimeError("dictsort needs a mapping");
                bool caseSensitive = Values.Truthy(Arg(args, kwargs, 0, "case_sensitive", false));
                bool byValue = (Arg(args, kwargs, 1, "by", "key") as string) == "value";
                bool reverse = Values.Truthy(Arg(args, kwargs, 2, "reverse", false));
                var pairs = d.Select(p => new object?[] { p.Key, p.Value }).ToList();
                return SortBy(pairs, p => Fold(byValue ? p[1] : p[0], caseSensitive), reverse).Select(p => (object?)p).ToList();
            }
            case "sort":
            {
                bool reverse = Values.Truthy(Arg(args, kwargs, 0, "reverse", false));
                bool caseSensitive = Values.Truthy(Arg(args, kwargs, 1, "case_sensitive", false));
                var attribute = Arg(args, kwargs, 2, "attribute");
                return SortBy(Values.Iterate(value).ToList(), x => Fold(attribute is null ? x : Attribute(interp, x, attribute), caseSensitive), reverse);
            }
            case "unique":
            {
                bool caseSensitive = Values.Truthy(Arg(args, kwargs, 0, "case_sensitive", false));
                var attribute = Arg(args, kwargs, 1, "attribute");
                var seen = new List<object?>();
                var result = new List<object?>();
                foreach (var x in Values.Iterate(value))
                {
                    var key = Fold(attribute is null ? x : Attribute(interp, x, attribute), caseSensitive);
                    if (seen.Any(s => Values.PyEquals(s, key))) continue;
                    seen.Add(key);
                    result.Add(x);
                }
                return result;
            }
            case "min" or "max":
            {
                bool caseSensitive = Values.Truthy(Arg(args, kwargs, 0, "case_sensitive", false));
                var attribute = Arg(args, kwargs, 1, "attribute");
                var items = Values.Iterate(value);
                if (items.Count == 0) return new Undefined($"no {name} item, sequence was empty");
                var best = items[0];
                foreach (var x in items.Skip(1))
                {
                    int c = Values.Compare(Fold(attribute is null ? x : Attribute(interp, x, attribute), caseSensitive), Fold(attribute is null ? best : Attribute(interp, best, attribute), caseSensitive), "<");
                    if (name == "min" ? c < 0 : c > 0) best = x;
                }
                return best;
            }
            case "sum":
            {
                var attribute = Arg(args, kwargs, 0, "attribute");
                object? total = Arg(args, kwargs, 1, "start", 0L);
                foreach (var x in Values.Iterate(value)) total = Arithmetic.Binary(interp, "+", total, attribute is null ? x : Attribute(interp, x, attribute));
                return total;
            }
            case "attr": return interp.GetAttr(value, Soft(Arg(args, kwargs, 0, "name")));
            case "map":
            {
                var items = Values.Iterate(value);
                if (kwargs.TryGetValue("attribute", out var attribute))
                {
                    bool hasDefault = kwargs.TryGetValue("default", out var fallback);
                    return items.Select(x => Attribute(interp, x, attribute) is var v && v is Undefined && hasDefault ? fallback : v).ToList();
                }
                if (args.Count == 0 || args[0] is not string filter || !HasFilter(filter)) throw new TemplateRuntimeError("map needs a filter name or attribute=...");
                return items.Select(x => Filter(interp, filter, x, args.Skip(1).ToList(), kwargs)).ToList();
            }
            case "select" or "reject":
                return Values.Iterate(value).Where(x => Select(interp, x, args) == (name == "select")).ToList();
            case "selectattr" or "rejectattr":
            {
                if (args.Count == 0) throw new TemplateRuntimeError($"{name} needs an attribute name");
                return Values.Iterate(value).Where(x => Select(interp, Attribute(interp, x, args[0]), args.Skip(1).ToList()) == (name == "selectattr")).ToList();
            }
            case "indent":
            {
                var width = Arg(args, kwargs, 0, "width", 4L);
                string pad = width is string ws ? ws : new string(' ', (int)Values.ToLong(width));
                bool first = Values.Truthy(Arg(args, kwargs, 1, "first", false));
                bool blank = Values.Truthy(Arg(args, kwargs, 2, "blank", false));
                string s = Soft(value) + "\n";
                var lines = s.Split('\n').ToList();
                lines.RemoveAt(lines.Count - 1);
                if (lines.Count == 0) return "";
                var b = new StringBuilder();
                for (int i = 0; i < lines.Count; i++)
                {
                    if (i > 0) b.Append('\n');
                    bool indentThis = i == 0 ? first : (blank || lines[i].Trim(Lexer.PyWhitespace).Length > 0);
                    if (indentThis) b.Append(pad);
                    b.Append(lines[i]);
                }
                return interp.Checked(b.ToString());
            }
            case "wordcount": return (long)Soft(value).Split(Lexer.PyWhitespace, StringSplitOptions.RemoveEmptyEntries).Length;
            default:
                throw new TemplateRuntimeError($"no filter named '{name}'");
        }
    }

    static object? Fold(object? v, bool caseSensitive) => !caseSensitive && v is string s ? s.ToLowerInvariant() : v;

    static List<T> SortBy<T>(List<T> items, Func<T, object?> key, bool reverse)
    {
        var keyed = items.Select((x, i) => (x, k: key(x), i)).ToList();
        keyed.Sort((a, b) =>
        {
            int c = Values.Compare(a.k, b.k, "<");
            if (reverse) c = -c;
            return c != 0 ? c : a.i.CompareTo(b.i);
        });
        return keyed.Select(p => p.x).ToList();
    }

    /// <summary>Jinja2's attribute lookup for filters: <c>"a.b"</c> walks nested attributes, integers index.</summary>
    static object? Attribute(Interpreter interp, object? item, object? attribute)
    {
        if (attribute is long i) return interp.GetItem(item, i);
        var value = item;
        foreach (string part in Soft(attribute).Split('.'))
        {
            value = long.TryParse(part, NumberStyles.None, CultureInfo.InvariantCulture, out long n) ? interp.GetItem(value, n) : interp.GetItem(value, part);
            if (value is Undefined) break;
        }
        return value;
    }

    static bool Select(Interpreter interp, object? value, List<object?> args)
    {
        if (args.Count == 0) return Values.Truthy(value);
        string test = Soft(args[0]);
        if (!HasTest(test)) throw new TemplateRuntimeError($"no test named '{test}'");
        return Test(interp, test, value, args.Skip(1).ToList());
    }

    static string Title(string s)
    {
        // Jinja2's title filter: words start after spaces, dashes and opening brackets.
        var b = new StringBuilder(s.Length);
        bool start = true;
        foreach (char c in s)
        {
            bool separator = c is '-' or '(' or '{' or '[' or '<' || Array.IndexOf(Lexer.PyWhitespace, c) >= 0;
            b.Append(separator ? c : start ? char.ToUpperInvariant(c) : char.ToLowerInvariant(c));
            start = separator;
        }
        return b.ToString();
    }

    static string Escape(string s) => s.Replace("&", "&amp;", StringComparison.Ordinal).Replace("<", "&lt;", StringComparison.Ordinal)
        .Replace(">", "&gt;", StringComparison.Ordinal).Replace("\"", "&#34;", StringComparison.Ordinal).Replace("'", "&#39;", StringComparison.Ordinal);

    public static bool Test(Interpreter interp, string name, object? value, List<object?> args)
    {
        object? A(int i) => i < args.Count ? args[i] : throw new TemplateRuntimeError($"the test '{name}' needs an argument");
        switch (name)
        {
            case "defined": return value is not Undefined;
            case "undefined": return value is Undefined;
            case "none": return value is null;
            case "boolean": return value is bool;
            case "true": return value is true;
            case "false": return value is false;
            case "string": return value is string;
            case "number": return value is long or double or bool;
            case "integer": return value is long;
            case "float": return value is double;
            case "mapping": return value is Dictionary<object, object?>;
            case "sequence": return value is string or List<object?> or object?[] or Dictionary<object, object?>;
            case "iterable": return value is string or List<object?> or object?[] or Dictionary<object, object?> or Undefined;
            case "callable": return value is Callable;
            case "lower": return value is string lo && lo == lo.ToLowerInvariant();
            case "upper": return value is string up && up == up.ToUpperInvariant();
            case "even": return Values.ToLong(Number(value, name)) % 2 == 0;
            case "odd": return Values.ToLong(Number(value, name)) % 2 != 0;
            case "divisibleby": return Values.ToLong(A(0)) != 0 && Values.ToLong(Number(value, name)) % Values.ToLong(A(0)) == 0;
            case "eq" or "equalto" or "==": return Values.PyEquals(value, A(0));
            case "ne" or "!=": return !Values.PyEquals(value, A(0));
            case "lt" or "lessthan" or "<": return Values.Compare(value, A(0), "<") < 0;
            case "le" or "<=": return Values.Compare(value, A(0), "<=") <= 0;
            case "gt" or "greaterthan" or ">": return Values.Compare(value, A(0), ">") > 0;
            case "ge" or ">=": return Values.Compare(value, A(0), ">=") >= 0;
            case "in": return Arithmetic.Contains(A(0), value);
            case "sameas":
            {
                var other = A(0);
                return value is null || other is null || value is bool || other is bool ? Values.PyEquals(value, other) && value?.GetType() == other?.GetType() : ReferenceEquals(value, other);
            }
            default: throw new TemplateRuntimeError($"no test named '{name}'");
        }
    }

    static object Number(object? v, string test) => Values.IsNumber(v) ? v! : throw new TemplateRuntimeError($"the test '{test}' needs a number, not '{Values.TypeName(v)}'");

    /// <summary>The global functions: range, namespace, dict, raise_exception, strftime_now.</summary>
    public static IEnumerable<(string Name, Callable Function)> Globals(string template)
    {
        yield return ("range", new Callable("range", (interp, args, _) =>
        {
            if (args.Count is < 1 or > 3 || args.Any(a => a is not (long or bool))) throw new TemplateRuntimeError("range() takes 1 to 3 integers");
            long start = args.Count == 1 ? 0 : Values.ToLong(args[0]);
            long stop = Values.ToLong(args[args.Count == 1 ? 0 : 1]);
            long step = args.Count == 3 ? Values.ToLong(args[2]) : 1;
            if (step == 0) throw new TemplateRuntimeError("range() arg 3 must not be zero");
            long count = step > 0 ? (stop > start ? (stop - start + step - 1) / step : 0) : (start > stop ? (start - stop - step - 1) / -step : 0);
            if (count > MaxRange) throw new TemplateRuntimeError($"range too big: {count} items; at most {MaxRange} are allowed");
            var result = new List<object?>((int)count);
            for (long i = 0; i < count; i++) result.Add(start + i * step);
            return result;
        }));
        yield return ("namespace", new Callable("namespace", (_, args, kwargs) =>
        {
            var ns = new Namespace();
            foreach (var a in args)
            {
                if (a is not Dictionary<object, object?> d) throw new TemplateRuntimeError("namespace() takes a dict or keyword arguments");
                foreach (var (k, v) in d) ns.Attributes[Soft(k)] = v;
            }
            foreach (var (k, v) in kwargs) ns.Attributes[k] = v;
            return ns;
        }));
        yield return ("dict", new Callable("dict", (_, args, kwargs) =>
        {
            var d = new Dictionary<object, object?>();
            foreach (var a in args)
            {
                if (a is not Dictionary<object, object?> src) throw new TemplateRuntimeError("dict() takes a dict or keyword arguments");
                foreach (var (k, v) in src) d[k] = v;
            }
            foreach (var (k, v) in kwargs) d[k] = v;
            return d;
        }));
        yield return ("raise_exception", new Callable("raise_exception", (_, args, _) =>
            throw new TemplateRuntimeError(args.Count > 0 ? Soft(args[0]) : "raise_exception() was called", raisedByTemplate: true)));
        yield return ("strftime_now", new Callable("strftime_now", (interp, args, _) =>
            Strftime(interp.Options.Clock.GetLocalNow().DateTime, args.Count > 0 ? Soft(args[0]) : throw new TemplateRuntimeError("strftime_now() takes a format"))));
    }

    /// <summary>C's strftime for the directives templates use (%d %m %Y %y %B %b %A %a %H %I %M %S %p %j %%).</summary>
    static string Strftime(DateTime t, string format)
    {
        var b = new StringBuilder();
        var c = CultureInfo.InvariantCulture;
        for (int i = 0; i < format.Length; i++)
        {
            if (format[i] != '%' || i + 1 >= format.Length) { b.Append(format[i]); continue; }
            char d = format[++i];
            b.Append(d switch
            {
                'd' => t.ToString("dd", c),
                'm' => t.ToString("MM", c),
                'Y' => t.ToString("yyyy", c),
                'y' => t.ToString("yy", c),
                'B' => t.ToString("MMMM", c),
                'b' => t.ToString("MMM", c),
                'A' => t.ToString("dddd", c),
                'a' => t.ToString("ddd", c),
                'H' => t.ToString("HH", c),
                'I' => t.ToString("hh", c),
                'M' => t.ToString("mm", c),
                'S' => t.ToString("ss", c),
                'p' => t.ToString("tt", c),
                'j' => t.DayOfYear.ToString("000", c),
                '%' => "%",
                _ => "%" + d,
            });
        }
        return b.ToString();
    }
}
