using System.Globalization;
using System.Text;

namespace Tessera.Text.Templates;

/// <summary>
/// The <c>tojson</c> filter as transformers defines it for chat templates: Python's <c>json.dumps</c> with
/// <c>ensure_ascii=False</c> (non-ASCII text kept), keys in insertion order unless sorted, <c>", "</c> and <c>": "</c>
/// separators, or newlines and indent spaces when an indent is given.
/// </summary>
internal static class TemplateJson
{
    public static string Dumps(object? value, int? indent, bool sortKeys)
    {
        var b = new StringBuilder();
        Write(b, value, indent, sortKeys, 0);
        return b.ToString();
    }

    static void Write(StringBuilder b, object? value, int? indent, bool sortKeys, int level)
    {
        if (level > 128) throw new TemplateRuntimeError("tojson: the value nests too deeply");
        switch (value)
        {
            case null: b.Append("null"); return;
            case bool v: b.Append(v ? "true" : "false"); return;
            case long l: b.Append(l.ToString(CultureInfo.InvariantCulture)); return;
            case double d: b.Append(double.IsNaN(d) ? "NaN" : double.IsPositiveInfinity(d) ? "Infinity" : double.IsNegativeInfinity(d) ? "-Infinity" : Values.FloatRepr(d)); return;
            case string s: String(b, s); return;
            case List<object?> or object?[]:
            {
                var items = Values.Iterate(value);
                if (items.Count == 0) { b.Append("[]"); return; }
                b.Append('[');
                for (int i = 0; i < items.Count; i++)
                {
                    b.Append(i == 0 ? "" : indent is null ? ", " : ",");
                    Newline(b, indent, level + 1);
                    Write(b, items[i], indent, sortKeys, level + 1);
                }
                Newline(b, indent, level);
                b.Append(']');
                return;
            }
            case Dictionary<object, object?> dict:
            {
                if (dict.Count == 0) { b.Append("{}"); return; }
                var pairs = dict.Select(p => (Key: KeyText(p.Key), p.Value)).ToList();
                if (sortKeys) pairs = [.. pairs.OrderBy(p => p.Key, Comparer<string>.Create(Values.CompareCodePoints))];
                b.Append('{');
                for (int i = 0; i < pairs.Count; i++)
                {
                    b.Append(i == 0 ? "" : indent is null ? ", " : ",");
                    Newline(b, indent, level + 1);
                    String(b, pairs[i].Key);
                    b.Append(": ");
                    Write(b, pairs[i].Value, indent, sortKeys, level + 1);
                }
                Newline(b, indent, level);
                b.Append('}');
                return;
            }
            default:
                throw new TemplateRuntimeError($"Object of type {Values.TypeName(value)} is not JSON serializable");
        }
    }

    static string KeyText(object key) => key switch
    {
        string s => s,
        bool v => v ? "true" : "false",
        long l => l.ToString(CultureInfo.InvariantCulture),
        double d => Values.FloatRepr(d),
        _ => throw new TemplateRuntimeError($"keys must be str, int, float or bool, not {Values.TypeName(key)}"),
    };

    static void Newline(StringBuilder b, int? indent, int level)
    {
        if (indent is not int n) return;
        b.Append('\n').Append(' ', n * level);
    }

    static void String(StringBuilder b, string s)
    {
        b.Append('"');
        foreach (char c in s)
        {
            switch (c)
            {
                case '"': b.Append("\\\""); break;
                case '\\': b.Append("\\\\"); break;
                case '\n': b.Append("\\n"); break;
                case '\r': b.Append("\\r"); break;
                case '\t': b.Append("\\t"); break;
                case '\b': b.Append("\\b"); break;
                case '\f': b.Append("\\f"); break;
                default:
                    if (c < 0x20) b.Append("\\u").Append(((int)c).ToString("x4", CultureInfo.InvariantCulture));
                    else b.Append(c);
                    break;
            }
        }
        b.Append('"');
    }
}
