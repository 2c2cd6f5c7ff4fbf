using System.Collections;
using System.Globalization;
using System.Text;
using System.Text.Json;

namespace Tessera.Text.Templates;

/// <summary>Jinja2's default undefined: prints as nothing, is falsy, iterates as empty; anything else on it is an error.</summary>
internal sealed class Undefined(string hint)
{
    public string Hint { get; } = hint;
}

/// <summary>The object <c>namespace(...)</c> returns: attributes that <c>{% set ns.x = ... %}</c> may change from inside loops.</summary>
internal sealed class Namespace
{
    public Dictionary<string, object?> Attributes { get; } = [];
}

/// <summary>A callable value: a global function, a macro, or a bound method of a string, dict or loop.</summary>
internal sealed class Callable(string name, Func<Interpreter, List<object?>, Dictionary<string, object?>, object?> invoke)
{
    public string Name { get; } = name;
    public object? Invoke(Interpreter interpreter, List<object?> args, Dictionary<string, object?> kwargs) => invoke(interpreter, args, kwargs);
}

/// <summary>
/// Python's value semantics as Jinja2 inherits them. Values are null (None), <see cref="Undefined"/>, bool, long,
/// double, string, <see cref="List{T}"/> (list), object?[] (tuple), <see cref="Dictionary{TKey, TValue}"/> of
/// object keys (dict, in insertion order), <see cref="Namespace"/>, <see cref="LoopInfo"/> and <see cref="Callable"/>.
/// </summary>
internal static class Values
{
    /// <summary>A host value (strings, numbers, bools, lists, dictionaries, JSON elements) in the interpreter's representation.</summary>
    public static object? FromHost(object? value, int depth = 0)
    {
        if (depth > 128) throw new ArgumentException("a value passed to the template nests deeper than 128 levels");
        switch (value)
        {
            case null or string or bool or long or double: return value;
            case int i: return (long)i;
            case short s: return (long)s;
            case byte b: return (long)b;
            case uint u: return (long)u;
            case float f: return (double)f;
            case decimal m: return (double)m;
            case JsonElement e: return FromJson(e, depth);
            case System.Text.Json.Nodes.JsonNode n: return FromJson(JsonSerializer.SerializeToElement(n), depth);
            case IDictionary dict:
            {
                var d = new Dictionary<object, object?>();
                foreach (DictionaryEntry entry in dict) d[FromHost(entry.Key, depth + 1)!] = FromHost(entry.Value, depth + 1);
                return d;
            }
            case IEnumerable<KeyValuePair<string, object?>> pairs:
            {
                var d = new Dictionary<object, object?>();
                foreach (var (k, v) in pairs) d[k] = FromHost(v, depth + 1);
                return d;
            }
            case IEnumerable items:
                return items.Cast<object?>().Select(x => FromHost(x, depth + 1)).ToList();
            default:
                throw new ArgumentException($"a value of type {value.GetType().Name} cannot be passed to a template (use strings, numbers, bools, lists and dictionaries)");
        }
    }

    static object? FromJson(JsonElement e, int depth) => e.ValueKind switch
    {
        JsonValueKind.String => e.GetString(),
        JsonValueKind.Number => e.TryGetInt64(out long l) ? l : e.GetDouble(),
        JsonValueKind.True => true,
        JsonValueKind.False => false,
        JsonValueKind.Array => e.EnumerateArray().Select(x => FromJson(x, depth + 1)).ToList(),
        JsonValueKind.Object => e.EnumerateObject().Aggregate(new Dictionary<object, object?>(), (d, p) => { d[p.Name] = FromJson(p.Value, depth + 1); return d; }),
        _ => null,
    };

    public static bool Truthy(object? v) => v switch
    {
        null or Undefined => false,
        bool b => b,
        long l => l != 0,
        double d => d != 0,
        string s => s.Length > 0,
        ICollection c => c.Count > 0,
        _ => true,
    };

    public static string TypeName(object? v) => v switch
    {
        null => "NoneType",
        Undefined => "Undefined",
        bool => "bool",
        long => "int",
        double => "float",
        string => "str",
        object?[] => "tuple",
        List<object?> => "list",
        Dictionary<object, object?> => "dict",
        Namespace => "Namespace",
        LoopInfo => "LoopContext",
        Callable => "function",
        _ => v.GetType().Name,
    };

    /// <summary>Python's <c>str(v)</c> (Jinja2 prints undefined as the empty string).</summary>
    public static string Str(object? v) => v switch
    {
        string s => s,
        Undefined => "",
        _ => Repr(v, 0),
    };

    public static string Repr(object? v, int depth = 0)
    {
        if (depth > 64) return "...";
        switch (v)
        {
            case null: return "None";
            case Undefined: return "Undefined";
            case bool b: return b ? "True" : "False";
            case long l: return l.ToString(CultureInfo.InvariantCulture);
            case double d: return FloatRepr(d);
            case string s: return StringRepr(s);
            case object?[] t: return t.Length == 1 ? $"({Repr(t[0], depth + 1)},)" : "(" + string.Join(", ", t.Select(x => Repr(x, depth + 1))) + ")";
            case List<object?> list: return "[" + string.Join(", ", list.Select(x => Repr(x, depth + 1))) + "]";
            case Dictionary<object, object?> d: return "{" + string.Join(", ", d.Select(p => Repr(p.Key, depth + 1) + ": " + Repr(p.Value, depth + 1))) + "}";
            case Namespace ns: return "<Namespace " + Repr(ns.Attributes.ToDictionary(p => (object)p.Key, p => p.Value), depth + 1) + ">";
            case Callable c: return $"<function {c.Name}>";
            case LoopInfo: return "<LoopContext>";
            default: return v.ToString() ?? "";
        }
    }

    /// <summary>Python's <c>repr(float)</c>: the shortest round-trip digits, positional from 1e-4 up to 1e16, else scientific.</summary>
    public static string FloatRepr(double d)
    {
        if (double.IsNaN(d)) return "nan";
        if (double.IsInfinity(d)) return d > 0 ? "inf" : "-inf";
        if (d == 0) return double.IsNegative(d) ? "-0.0" : "0.0";
        string r = d.ToString("R", CultureInfo.InvariantCulture);
        bool negative = r[0] == '-';
        if (negative) r = r[1..];
        int exponent = 0;
        int e = r.IndexOfAny(['E', 'e']);
        if (e >= 0)
        {
            exponent = int.Parse(r.AsSpan(e + 1), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture);
            r = r[..e];
        }
        int dot = r.IndexOf('.');
        string digits = dot < 0 ? r : r[..dot] + r[(dot + 1)..];
        int point = (dot < 0 ? r.Length : dot) + exponent;
        int lead = 0;
        while (lead < digits.Length - 1 && digits[lead] == '0') { lead++; point--; }
        digits = digits[lead..].TrimEnd('0');
        if (digits.Length == 0) digits = "0";
        int sci = point - 1;
        string body;
        if (sci is >= -4 and < 16)
        {
            if (point <= 0) body = "0." + new string('0', -point) + digits;
            else if (point >= digits.Length) body = digits + new string('0', point - digits.Length) + ".0";
            else body = digits[..point] + "." + digits[point..];
        }
        else
        {
            body = digits[..1] + (digits.Length > 1 ? "." + digits[1..] : "") + "e" + (sci < 0 ? "-" : "+") + Math.Abs(sci).ToString("00", CultureInfo.InvariantCulture);
        }
        return negative ? "-" + body : body;
    }

    public static string StringRepr(string s)
    {
        char quote = s.Contains('\'') && !s.Contains('"') ? '"' : '\'';
        var b = new StringBuilder().Append(quote);
        foreach (var rune in s.EnumerateRunes())
        {
            int c = rune.Value;
            if (c == quote || c == '\\') b.Append('\\').Append((char)c);
            else if (c == '\n') b.Append("\\n");
            else if (c == '\r') b.Append("\\r");
            else if (c == '\t') b.Append("\\t");
            else if (c < 0x20 || c == 0x7f) b.Append("\\x").Append(c.ToString("x2", CultureInfo.InvariantCulture));
            else if (c >= 0x80 && !Printable(rune))
                b.Append(c < 0x100 ? "\\x" + c.ToString("x2", CultureInfo.InvariantCulture) : c < 0x10000 ? "\\u" + c.ToString("x4", CultureInfo.InvariantCulture) : "\\U" + c.ToString("x8", CultureInfo.InvariantCulture));
            else b.Append(rune.ToString());
        }
        return b.Append(quote).ToString();
    }

    static bool Printable(Rune r) => Rune.GetUnicodeCategory(r) switch
    {
        UnicodeCategory.Control or UnicodeCategory.Format or UnicodeCategory.Surrogate or UnicodeCategory.PrivateUse
            or UnicodeCategory.OtherNotAssigned or UnicodeCategory.LineSeparator or UnicodeCategory.ParagraphSeparator or UnicodeCategory.SpaceSeparator => false,
        _ => true,
    };

    public static bool IsNumber(object? v) => v is long or double or bool;

    public static double ToDouble(object? v) => v switch
    {
        long l => l,
        double d => d,
        bool b => b ? 1 : 0,
        _ => throw new InvalidCastException(),
    };

    public static bool PyEquals(object? a, object? b)
    {
        if (a is Undefined || b is Undefined) return a is Undefined && b is Undefined;
        if (a is null || b is null) return a is null && b is null;
        if (IsNumber(a) && IsNumber(b))
            return a is double || b is double ? ToDouble(a) == ToDouble(b) : ToLong(a) == ToLong(b);
        switch (a)
        {
            case string s: return b is string t && s == t;
            case List<object?> l: return b is List<object?> m && l.Count == m.Count && l.Zip(m).All(p => PyEquals(p.First, p.Second));
            case object?[] t1: return b is object?[] t2 && t1.Length == t2.Length && t1.Zip(t2).All(p => PyEquals(p.First, p.Second));
            case Dictionary<object, object?> d:
                return b is Dictionary<object, object?> e && d.Count == e.Count && d.All(p => e.TryGetValue(p.Key, out var v) && PyEquals(p.Value, v));
            default: return ReferenceEquals(a, b);
        }
    }

    public static long ToLong(object? v) => v switch
    {
        long l => l,
        bool b => b ? 1 : 0,
        double d => (long)d,
        _ => throw new InvalidCastException(),
    };

    /// <summary>Python's ordering: numbers with numbers, strings by code point, lists and tuples item by item.</summary>
    public static int Compare(object? a, object? b, string op)
    {
        if (IsNumber(a) && IsNumber(b))
            return a is double || b is double ? ToDouble(a).CompareTo(ToDouble(b)) : ToLong(a).CompareTo(ToLong(b));
        if (a is string s && b is string t) return CompareCodePoints(s, t);
        if ((a is List<object?> && b is List<object?>) || (a is object?[] && b is object?[]))
        {
            var x = ((IList)a).Cast<object?>().ToList();
            var y = ((IList)b).Cast<object?>().ToList();
            for (int i = 0; i < Math.Min(x.Count, y.Count); i++)
                if (!PyEquals(x[i], y[i])) return Compare(x[i], y[i], op);
            return x.Count.CompareTo(y.Count);
        }
        throw new TemplateRuntimeError($"'{op}' not supported between instances of '{TypeName(a)}' and '{TypeName(b)}'");
    }

    public static int CompareCodePoints(string s, string t)
    {
        int i = 0, j = 0;
        while (i < s.Length && j < t.Length)
        {
            int a = char.IsSurrogatePair(s, i) ? char.ConvertToUtf32(s, i) : s[i], b = char.IsSurrogatePair(t, j) ? char.ConvertToUtf32(t, j) : t[j];
            if (a != b) return a.CompareTo(b);
            i += a > 0xFFFF ? 2 : 1;
            j += b > 0xFFFF ? 2 : 1;
        }
        return (s.Length - i).CompareTo(t.Length - j);
    }

    /// <summary>Strings as Python sees them: code points (so indexing and len() agree with Python for text beyond the BMP).</summary>
    public static int[] CodePoints(string s)
    {
        var result = new List<int>(s.Length);
        foreach (var r in s.EnumerateRunes()) result.Add(r.Value);
        return [.. result];
    }

    public static string FromCodePoints(IEnumerable<int> points)
    {
        var b = new StringBuilder();
        foreach (int p in points) b.Append(char.ConvertFromUtf32(p));
        return b.ToString();
    }

    public static bool HasSurrogates(string s) => s.AsSpan().IndexOfAnyInRange('\uD800', '\uDFFF') >= 0;

    public static int Length(string s) => HasSurrogates(s) ? CodePoints(s).Length : s.Length;

    /// <summary>Items of an iterable value: a list, tuple, dict (its keys), string (its characters) or undefined (nothing).</summary>
    public static List<object?> Iterate(object? v) => v switch
    {
        List<object?> l => l,
        object?[] t => [.. t],
        Dictionary<object, object?> d => [.. d.Keys],
        string s => HasSurrogates(s) ? [.. CodePoints(s).Select(c => (object?)char.ConvertFromUtf32(c))] : [.. s.Select(c => (object?)c.ToString())],
        Undefined => [],
        Namespace ns => [],
        _ => throw new TemplateRuntimeError($"'{TypeName(v)}' object is not iterable"),
    };
}

/// <summary>An error while rendering, before the interpreter adds the file and line.</summary>
internal sealed class TemplateRuntimeError(string message, bool raisedByTemplate = false) : Exception(message)
{
    public bool RaisedByTemplate { get; } = raisedByTemplate;
}
