using System.Collections;
using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace Tessera.Formats;

/// <summary>
/// The small YAML subset model-card front matter needs: block mappings and sequences (nested), flow <c>[]</c>/<c>{}</c>
/// and flow lists of scalars, plain/single-quoted/double-quoted scalars, comments. Written so that PyYAML's
/// <c>safe_load</c> reads the same values back (strings that YAML 1.1 would resolve to another type are quoted).
/// </summary>
static partial class FrontMatterYaml
{
    // Plain scalars we emit unquoted: start with a letter, '_' or '/', then a conservative character set with no
    // ':', '#', quotes, brackets or commas, so no YAML indicator can appear.
    [GeneratedRegex(@"^[A-Za-z_/][A-Za-z0-9_ ./()+\-]*$")]
    private static partial Regex SafePlain();

    [GeneratedRegex(@"^[-+]?(0|[1-9][0-9]*)$")]
    private static partial Regex IntPattern();

    [GeneratedRegex(@"^[-+]?([0-9][0-9_]*)?\.[0-9_]*([eE][-+]?[0-9]+)?$|^[-+]?[0-9][0-9_]*[eE][-+]?[0-9]+$")]
    private static partial Regex FloatPattern();

    static readonly HashSet<string> Reserved = new(StringComparer.OrdinalIgnoreCase)
    { "null", "~", "true", "false", "yes", "no", "on", "off", "y", "n", ".nan", ".inf", "-.inf", "+.inf" };

    // ---------------------------------------------------------------- writing

    public static void WriteMapping(StringBuilder sb, IEnumerable<KeyValuePair<string, object?>> map, int indent)
    {
        foreach (var (key, value) in map)
            WriteEntry(sb, new string(' ', indent), key, value, indent);
    }

    static void WriteEntry(StringBuilder sb, string prefix, string key, object? value, int indent)
    {
        sb.Append(prefix).Append(Scalar(key, key)).Append(':');
        WriteValueAfterKey(sb, key, value, indent);
    }

    static void WriteValueAfterKey(StringBuilder sb, string key, object? value, int indent)
    {
        switch (Classify(value))
        {
            case Kind.Map:
                var entries = MapEntries((IDictionary)value!, key);
                if (entries.Count == 0) { sb.Append(" {}\n"); return; }
                sb.Append('\n');
                WriteMapping(sb, entries, indent + 2);
                return;
            case Kind.List:
                var items = ((IEnumerable)value!).Cast<object?>().ToList();
                if (items.Count == 0) { sb.Append(" []\n"); return; }
                sb.Append('\n');
                WriteList(sb, items, indent, key);
                return;
            default:
                sb.Append(' ').Append(Scalar(value, key)).Append('\n');
                return;
        }
    }

    static void WriteList(StringBuilder sb, List<object?> items, int indent, string key)
    {
        string pad = new(' ', indent);
        foreach (var item in items)
        {
            switch (Classify(item))
            {
                case Kind.Map:
                    var entries = MapEntries((IDictionary)item!, key);
                    if (entries.Count == 0) { sb.Append(pad).Append("- {}\n"); break; }
                    for (int i = 0; i < entries.Count; i++)
                        WriteEntry(sb, i == 0 ? pad + "- " : pad + "  ", entries[i].Key, entries[i].Value, indent + 2);
                    break;
                case Kind.List:
                    var inner = ((IEnumerable)item!).Cast<object?>().ToList();
                    if (inner.Count == 0) { sb.Append(pad).Append("- []\n"); break; }
                    sb.Append(pad).Append("-\n");
                    WriteList(sb, inner, indent + 2, key);
                    break;
                default:
                    sb.Append(pad).Append("- ").Append(Scalar(item, key)).Append('\n');
                    break;
            }
        }
    }

    enum Kind { Scalar, List, Map }

    static Kind Classify(object? value) => value switch
    {
        null or string => Kind.Scalar,
        IDictionary => Kind.Map,
        IEnumerable => Kind.List,
        _ => Kind.Scalar,
    };

    static List<KeyValuePair<string, object?>> MapEntries(IDictionary map, string key)
    {
        var list = new List<KeyValuePair<string, object?>>();
        foreach (DictionaryEntry e in map)
            list.Add(new(e.Key as string ?? throw new ArgumentException($"front matter \"{key}\": mapping keys must be strings, got {e.Key.GetType().Name}"), e.Value));
        return list;
    }

    static string Scalar(object? value, string key) => value switch
    {
        null => "null",
        bool b => b ? "true" : "false",
        string s => QuoteIfNeeded(s),
        sbyte or byte or short or ushort or int or uint or long or ulong => Convert.ToString(value, CultureInfo.InvariantCulture)!,
        float f => FormatFloat(f, f.ToString("R", CultureInfo.InvariantCulture)),
        double d => FormatFloat(d, d.ToString("R", CultureInfo.InvariantCulture)),
        decimal m => FormatFloat((double)m, m.ToString(CultureInfo.InvariantCulture)),
        _ => throw new ArgumentException(
            $"front matter \"{key}\": unsupported value type {value.GetType().Name} (use string, number, bool, null, a list or a string-keyed dictionary)"),
    };

    static string FormatFloat(double d, string r)
    {
        if (double.IsNaN(d)) return ".nan";
        if (double.IsPositiveInfinity(d)) return ".inf";
        if (double.IsNegativeInfinity(d)) return "-.inf";
        // YAML 1.1 (PyYAML) only reads "1.0e-05" as a float: it needs a '.' in the mantissa and a signed exponent.
        string mantissa = r, exponent = "";
        int e = r.IndexOfAny(['E', 'e']);
        if (e >= 0)
        {
            mantissa = r[..e];
            exponent = r[(e + 1)..];
            if (exponent[0] != '-' && exponent[0] != '+') exponent = "+" + exponent;
            exponent = "e" + exponent;
        }
        if (!mantissa.Contains('.')) mantissa += ".0";
        return mantissa + exponent;
    }

    static string QuoteIfNeeded(string s)
    {
        if (SafePlain().IsMatch(s) && !s.EndsWith(' ') && !Reserved.Contains(s)) return s;
        var sb = new StringBuilder(s.Length + 2).Append('"');
        foreach (char c in s)
        {
            switch (c)
            {
                case '"': sb.Append("\\\""); break;
                case '\\': sb.Append("\\\\"); break;
                case '\n': sb.Append("\\n"); break;
                case '\t': sb.Append("\\t"); break;
                case '\r': sb.Append("\\r"); break;
                case '\0': sb.Append("\\0"); break;
                default:
                    if (c < 0x20 || c is >= '\x7f' and <= '\x9f' || c is '\u2028' or '\u2029' or '\uFEFF')
                        sb.Append("\\u").Append(((int)c).ToString("X4", CultureInfo.InvariantCulture));
                    else sb.Append(c);
                    break;
            }
        }
        return sb.Append('"').ToString();
    }

    // ---------------------------------------------------------------- reading

    readonly record struct Line(int Number, int Indent, string Text);

    /// <summary>Parses front matter lines (without the --- fences); <paramref name="firstLine"/> is the 1-based line number of lines[0].</summary>
    public static OrderedDictionary<string, object?> Parse(IReadOnlyList<string> rawLines, int firstLine, string? source)
    {
        var lines = new List<Line>();
        for (int i = 0; i < rawLines.Count; i++)
        {
            string raw = rawLines[i];
            int n = firstLine + i;
            int indent = 0;
            while (indent < raw.Length && raw[indent] == ' ') indent++;
            if (indent < raw.Length && raw[indent] == '\t')
                throw Error(source, n, "tab characters are not allowed in indentation");
            string text = raw[indent..].TrimEnd();
            if (text.Length == 0 || text[0] == '#') continue;
            lines.Add(new Line(n, indent, text));
        }
        var parser = new Parser(lines, source);
        if (lines.Count == 0) return new();
        if (lines[0].Indent != 0) throw Error(source, lines[0].Number, "front matter must start at column 1");
        if (IsListItem(lines[0].Text)) throw Error(source, lines[0].Number, "front matter must be a mapping of keys to values, not a list");
        var map = parser.ParseMap(0);
        if (parser.Position < lines.Count)
            throw Error(source, lines[parser.Position].Number, "unexpected indentation");
        return map;
    }

    static TesseraFormatException Error(string? source, int line, string message) =>
        new(source, $"front matter line {line}: {message}");

    static bool IsListItem(string text) => text == "-" || text.StartsWith("- ", StringComparison.Ordinal);

    sealed class Parser(List<Line> lines, string? source)
    {
        public int Position;

        object? ParseBlock(int indent) =>
            IsListItem(lines[Position].Text) ? ParseList(indent) : ParseMap(indent);

        public OrderedDictionary<string, object?> ParseMap(int indent)
        {
            var map = new OrderedDictionary<string, object?>();
            while (Position < lines.Count && lines[Position].Indent == indent && !IsListItem(lines[Position].Text))
            {
                var line = lines[Position];
                var (key, rest) = SplitKey(line);
                if (map.ContainsKey(key)) throw Error(source, line.Number, $"duplicate key \"{key}\"");
                Position++;
                if (rest.Length > 0)
                {
                    map[key] = ParseInline(rest, line.Number);
                }
                else if (Position < lines.Count && (lines[Position].Indent > indent ||
                         (lines[Position].Indent == indent && IsListItem(lines[Position].Text))))
                {
                    map[key] = ParseBlock(lines[Position].Indent);
                }
                else map[key] = null;
            }
            if (Position < lines.Count && lines[Position].Indent > indent)
                throw Error(source, lines[Position].Number, "unexpected indentation");
            return map;
        }

        List<object?> ParseList(int indent)
        {
            var list = new List<object?>();
            while (Position < lines.Count && lines[Position].Indent == indent && IsListItem(lines[Position].Text))
            {
                var line = lines[Position];
                string rest = line.Text.Length == 1 ? "" : line.Text[2..].TrimStart();
                if (rest.Length == 0)
                {
                    Position++;
                    list.Add(Position < lines.Count && lines[Position].Indent > indent ? ParseBlock(lines[Position].Indent) : null);
                }
                else
                {
                    int innerIndent = indent + (line.Text.Length - rest.Length);
                    if (IsListItem(rest) || FindKeyColon(rest) >= 0)
                    {
                        // "- key: v" or "- - v": the rest of the line opens a nested block at its own column.
                        lines[Position] = line with { Indent = innerIndent, Text = rest };
                        list.Add(ParseBlock(innerIndent));
                    }
                    else
                    {
                        list.Add(ParseInline(rest, line.Number));
                        Position++;
                    }
                }
            }
            if (Position < lines.Count && lines[Position].Indent > indent)
                throw Error(source, lines[Position].Number, "unexpected indentation");
            return list;
        }

        (string Key, string Value) SplitKey(Line line)
        {
            int colon = FindKeyColon(line.Text);
            if (colon < 0) throw Error(source, line.Number, $"expected \"key: value\", found \"{Shorten(line.Text)}\"");
            string keyText = line.Text[..colon].TrimEnd();
            object? key = keyText.Length > 0 && keyText[0] is '"' or '\'' ? ParseScalar(keyText, line.Number) : keyText;
            if (key is not string k || k.Length == 0) throw Error(source, line.Number, "keys must be non-empty strings");
            return (k, line.Text[(colon + 1)..].Trim());
        }

        /// <summary>Index of the ':' that ends a mapping key (followed by space or end of line), or -1.</summary>
        static int FindKeyColon(string text)
        {
            int i = 0;
            if (text.Length > 0 && text[0] is '"' or '\'')
            {
                i = ClosingQuote(text, 0);
                if (i < 0) return -1;
                i++;
                while (i < text.Length && text[i] == ' ') i++;
                return i < text.Length && text[i] == ':' && (i + 1 == text.Length || text[i + 1] == ' ') ? i : -1;
            }
            if (text.Length > 0 && text[0] is '[' or '{') return -1;
            for (; i < text.Length; i++)
            {
                if (text[i] == '#' && i > 0 && text[i - 1] == ' ') return -1;
                if (text[i] == ':' && (i + 1 == text.Length || text[i + 1] == ' ')) return i;
            }
            return -1;
        }

        static int ClosingQuote(string text, int open)
        {
            char q = text[open];
            for (int i = open + 1; i < text.Length; i++)
            {
                if (q == '"' && text[i] == '\\') { i++; continue; }
                if (text[i] == q)
                {
                    if (q == '\'' && i + 1 < text.Length && text[i + 1] == '\'') { i++; continue; }
                    return i;
                }
            }
            return -1;
        }

        object? ParseInline(string text, int lineNo)
        {
            if (text[0] == '[') return ParseFlowList(text, lineNo);
            if (text[0] == '{')
            {
                if (StripComment(text, lineNo) == "{}") return new OrderedDictionary<string, object?>();
                throw Error(source, lineNo, "flow mappings other than {} are not supported; use block style");
            }
            if (text[0] is '|' or '>') throw Error(source, lineNo, "block scalars (| and >) are not supported; use a quoted string");
            if (text[0] is '&' or '*' or '!') throw Error(source, lineNo, "anchors, aliases and tags are not supported");
            return ParseScalar(text, lineNo);
        }

        List<object?> ParseFlowList(string text, int lineNo)
        {
            var items = new List<object?>();
            int i = 1;
            while (true)
            {
                while (i < text.Length && text[i] == ' ') i++;
                if (i >= text.Length) throw Error(source, lineNo, "unterminated flow list (missing ']')");
                if (text[i] == ']') { i++; break; }
                int start = i;
                if (text[i] is '"' or '\'')
                {
                    int close = ClosingQuote(text, i);
                    if (close < 0) throw Error(source, lineNo, "unterminated quoted string");
                    i = close + 1;
                }
                else
                {
                    if (text[i] is '[' or '{') throw Error(source, lineNo, "nested flow collections are not supported");
                    while (i < text.Length && text[i] != ',' && text[i] != ']') i++;
                }
                items.Add(ParseScalar(text[start..i].Trim(), lineNo));
                while (i < text.Length && text[i] == ' ') i++;
                if (i < text.Length && text[i] == ',') { i++; continue; }
                if (i < text.Length && text[i] == ']') { i++; break; }
                throw Error(source, lineNo, "expected ',' or ']' in flow list");
            }
            string after = text[i..].Trim();
            if (after.Length > 0 && after[0] != '#') throw Error(source, lineNo, $"unexpected text after ']': \"{Shorten(after)}\"");
            return items;
        }

        string StripComment(string text, int lineNo)
        {
            int hash = text.IndexOf(" #", StringComparison.Ordinal);
            return (hash >= 0 ? text[..hash] : text).Trim();
        }

        object? ParseScalar(string text, int lineNo)
        {
            if (text[0] is '"' or '\'')
            {
                int close = ClosingQuote(text, 0);
                if (close < 0) throw Error(source, lineNo, "unterminated quoted string");
                string after = text[(close + 1)..].Trim();
                if (after.Length > 0 && after[0] != '#') throw Error(source, lineNo, $"unexpected text after quoted string: \"{Shorten(after)}\"");
                return text[0] == '\'' ? text[1..close].Replace("''", "'") : Unescape(text[1..close], lineNo);
            }
            string plain = StripComment(text, lineNo);
            if (FindKeyColon(plain) >= 0) throw Error(source, lineNo, $"unexpected ': ' in a plain value \"{Shorten(plain)}\"; quote it");
            return Resolve(plain);
        }

        static object? Resolve(string s)
        {
            switch (s)
            {
                case "" or "~" or "null" or "Null" or "NULL": return null;
                case "true" or "True" or "TRUE": return true;
                case "false" or "False" or "FALSE": return false;
                case ".nan" or ".NaN" or ".NAN": return double.NaN;
                case ".inf" or "+.inf" or ".Inf" or "+.Inf" or ".INF" or "+.INF": return double.PositiveInfinity;
                case "-.inf" or "-.Inf" or "-.INF": return double.NegativeInfinity;
            }
            if (IntPattern().IsMatch(s) && long.TryParse(s, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long l)) return l;
            if (FloatPattern().IsMatch(s) && double.TryParse(s.Replace("_", ""), NumberStyles.Float, CultureInfo.InvariantCulture, out double d)) return d;
            return s;
        }

        string Unescape(string body, int lineNo)
        {
            var sb = new StringBuilder(body.Length);
            for (int i = 0; i < body.Length; i++)
            {
                char c = body[i];
                if (c != '\\') { sb.Append(c); continue; }
                if (++i >= body.Length) throw Error(source, lineNo, "dangling '\\' in quoted string");
                switch (body[i])
                {
                    case '"': sb.Append('"'); break;
                    case '\\': sb.Append('\\'); break;
                    case '/': sb.Append('/'); break;
                    case 'n': sb.Append('\n'); break;
                    case 't': sb.Append('\t'); break;
                    case 'r': sb.Append('\r'); break;
                    case '0': sb.Append('\0'); break;
                    case ' ': sb.Append(' '); break;
                    case 'x': sb.Append(Hex(body, ref i, 2, lineNo)); break;
                    case 'u': sb.Append(Hex(body, ref i, 4, lineNo)); break;
                    case 'U': sb.Append(Hex(body, ref i, 8, lineNo)); break;
                    default: throw Error(source, lineNo, $"unknown escape '\\{body[i]}' in quoted string");
                }
            }
            return sb.ToString();
        }

        string Hex(string body, ref int i, int digits, int lineNo)
        {
            if (i + digits >= body.Length)
                throw Error(source, lineNo, $"escape needs {digits} hex digits");
            string hex = body.Substring(i + 1, digits);
            if (!int.TryParse(hex, NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out int code) || code > 0x10FFFF)
                throw Error(source, lineNo, $"invalid hex escape \"{hex}\"");
            i += digits;
            return char.ConvertFromUtf32(code is >= 0xD800 and <= 0xDFFF ? 0xFFFD : code);
        }

        static string Shorten(string s) => s.Length <= 40 ? s : s[..40] + "…";
    }
}
