using System.Text;

namespace Tessera.Tracking.Mlflow;

// Just enough YAML for MLflow's meta.yaml files: a flat mapping of scalars, strings double-quoted with escapes.
static class YamlText
{
    public static string Mapping(IEnumerable<(string Key, string Value)> entries)
    {
        var text = new StringBuilder();
        foreach (var (key, value) in entries) text.Append(key).Append(": ").Append(value).Append('\n');
        return text.ToString();
    }

    public static string Quote(string value)
    {
        var text = new StringBuilder("\"");
        foreach (char c in value)
        {
            switch (c)
            {
                case '"': text.Append("\\\""); break;
                case '\\': text.Append("\\\\"); break;
                case '\n': text.Append("\\n"); break;
                case '\r': text.Append("\\r"); break;
                case '\t': text.Append("\\t"); break;
                default:
                    if (c < 0x20 || c == 0x7f) text.Append("\\x").Append(((int)c).ToString("x2", System.Globalization.CultureInfo.InvariantCulture));
                    else text.Append(c);
                    break;
            }
        }
        return text.Append('"').ToString();
    }

    /// <summary>The text of a scalar as <see cref="Quote"/> or PyYAML writes simple ones (plain, 'single' or "double" quoted).</summary>
    public static string ParseScalar(string scalar)
    {
        scalar = scalar.Trim();
        if (scalar.Length >= 2 && scalar[0] == '\'' && scalar[^1] == '\'') return scalar[1..^1].Replace("''", "'", StringComparison.Ordinal);
        if (scalar.Length < 2 || scalar[0] != '"' || scalar[^1] != '"') return scalar;
        var text = new StringBuilder();
        for (int i = 1; i < scalar.Length - 1; i++)
        {
            char c = scalar[i];
            if (c != '\\' || i + 1 >= scalar.Length - 1) { text.Append(c); continue; }
            char e = scalar[++i];
            switch (e)
            {
                case 'n': text.Append('\n'); break;
                case 'r': text.Append('\r'); break;
                case 't': text.Append('\t'); break;
                case 'x' when i + 2 < scalar.Length - 1:
                    text.Append((char)Convert.ToInt32(scalar.Substring(i + 1, 2), 16));
                    i += 2;
                    break;
                default: text.Append(e); break;
            }
        }
        return text.ToString();
    }
}
