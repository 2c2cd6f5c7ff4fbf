using System.Net;
using System.Text;
using System.Text.RegularExpressions;

namespace Tessera.Dashboard;

/// <summary>
/// Renders a model card (Markdown with YAML front matter) as HTML safe to put in the page: every piece of the text is
/// HTML-escaped before any markup is added, links keep only http(s), relative and <c>#</c> targets, and images show
/// as their alt text. Covers what model cards use: front matter (shown as a code block), headings, paragraphs,
/// lists, tables, fenced code, block quotes, rules, <c>`code`</c>, <c>**bold**</c>, <c>*italic*</c> and links.
/// </summary>
public static partial class ModelCardHtml
{
    /// <summary>The HTML of <paramref name="markdown"/>.</summary>
    public static string Render(string markdown)
    {
        ArgumentNullException.ThrowIfNull(markdown);
        var lines = markdown.Replace("\r\n", "\n").Split('\n');
        var html = new StringBuilder();
        int i = 0;
        if (lines.Length > 0 && lines[0].Trim() == "---")
        {
            int end = Array.FindIndex(lines, 1, l => l.Trim() == "---");
            if (end > 0)
            {
                html.Append("<pre class=\"front-matter\"><code>").Append(Escape(string.Join('\n', lines[1..end]))).Append("</code></pre>\n");
                i = end + 1;
            }
        }
        var paragraph = new List<string>();
        void FlushParagraph()
        {
            if (paragraph.Count == 0) return;
            html.Append("<p>").Append(Inline(string.Join(' ', paragraph))).Append("</p>\n");
            paragraph.Clear();
        }
        while (i < lines.Length)
        {
            string line = lines[i];
            string trimmed = line.Trim();
            if (trimmed.Length == 0) { FlushParagraph(); i++; continue; }
            if (trimmed.StartsWith("```", StringComparison.Ordinal))
            {
                FlushParagraph();
                int close = Array.FindIndex(lines, i + 1, l => l.Trim().StartsWith("```", StringComparison.Ordinal));
                if (close < 0) close = lines.Length;
                html.Append("<pre><code>").Append(Escape(string.Join('\n', lines[(i + 1)..close]))).Append("</code></pre>\n");
                i = close + 1;
                continue;
            }
            if (Heading().Match(trimmed) is { Success: true } heading)
            {
                FlushParagraph();
                int level = heading.Groups[1].Length;
                html.Append($"<h{level}>").Append(Inline(heading.Groups[2].Value.TrimEnd('#', ' '))).Append($"</h{level}>\n");
                i++;
                continue;
            }
            if (trimmed is "---" or "***" or "___")
            {
                FlushParagraph();
                html.Append("<hr>\n");
                i++;
                continue;
            }
            if (trimmed.StartsWith('|') && i + 1 < lines.Length && TableRule().IsMatch(lines[i + 1].Trim()))
            {
                FlushParagraph();
                html.Append("<table>\n<thead><tr>");
                foreach (string cell in Cells(trimmed)) html.Append("<th>").Append(Inline(cell)).Append("</th>");
                html.Append("</tr></thead>\n<tbody>\n");
                i += 2;
                for (; i < lines.Length && lines[i].Trim().StartsWith('|'); i++)
                {
                    html.Append("<tr>");
                    foreach (string cell in Cells(lines[i].Trim())) html.Append("<td>").Append(Inline(cell)).Append("</td>");
                    html.Append("</tr>\n");
                }
                html.Append("</tbody>\n</table>\n");
                continue;
            }
            if (ListItem().Match(line) is { Success: true } item)
            {
                FlushParagraph();
                bool ordered = char.IsDigit(item.Groups[1].Value[0]);
                string tag = ordered ? "ol" : "ul";
                html.Append($"<{tag}>\n");
                for (; i < lines.Length && ListItem().Match(lines[i]) is { Success: true } next && char.IsDigit(next.Groups[1].Value[0]) == ordered; i++)
                    html.Append("<li>").Append(Inline(next.Groups[2].Value)).Append("</li>\n");
                html.Append($"</{tag}>\n");
                continue;
            }
            if (trimmed.StartsWith('>'))
            {
                FlushParagraph();
                var quote = new List<string>();
                for (; i < lines.Length && lines[i].Trim().StartsWith('>'); i++) quote.Add(lines[i].Trim()[1..].Trim());
                html.Append("<blockquote><p>").Append(Inline(string.Join(' ', quote))).Append("</p></blockquote>\n");
                continue;
            }
            paragraph.Add(trimmed);
            i++;
        }
        FlushParagraph();
        return html.ToString();
    }

    static IEnumerable<string> Cells(string row) => row.Trim().Trim('|').Split('|').Select(c => c.Trim());

    // Code spans first (their text stays literal), then images, links, bold, italic, all on escaped text.
    static string Inline(string text)
    {
        var parts = CodeSpan().Split(text);
        var html = new StringBuilder();
        for (int k = 0; k < parts.Length; k++)
        {
            if (k % 2 == 1) { html.Append("<code>").Append(Escape(parts[k])).Append("</code>"); continue; }
            string s = Escape(parts[k]);
            s = ImageMark().Replace(s, m => m.Groups[1].Value.Length > 0 ? $"[{m.Groups[1].Value}]" : "");
            s = LinkMark().Replace(s, m => SafeUrl(WebUtility.HtmlDecode(m.Groups[2].Value)) is { } url
                ? $"<a href=\"{Escape(url)}\" rel=\"noopener noreferrer\">{m.Groups[1].Value}</a>"
                : m.Groups[1].Value);
            s = Bold().Replace(s, "<strong>$2</strong>");
            s = Italic().Replace(s, "<em>$2</em>");
            html.Append(s);
        }
        return html.ToString();
    }

    static string? SafeUrl(string url)
    {
        url = url.Trim();
        if (url.StartsWith('#')) return url;
        if (Uri.TryCreate(url, UriKind.Absolute, out var absolute))
            return absolute.Scheme is "http" or "https" ? url : null;
        return url.Contains(':') ? null : url;
    }

    static string Escape(string text) => WebUtility.HtmlEncode(text);

    [GeneratedRegex(@"^(#{1,6})\s+(.*)$")]
    private static partial Regex Heading();

    [GeneratedRegex(@"^\|?\s*:?-{2,}:?\s*(\|\s*:?-{2,}:?\s*)*\|?$")]
    private static partial Regex TableRule();

    [GeneratedRegex(@"^\s{0,3}([-*+]|\d{1,9}[.)])\s+(.*)$")]
    private static partial Regex ListItem();

    [GeneratedRegex(@"`([^`]*)`")]
    private static partial Regex CodeSpan();

    [GeneratedRegex(@"!\[([^\]]*)\]\(([^)\s]*)[^)]*\)")]
    private static partial Regex ImageMark();

    [GeneratedRegex(@"\[([^\]]+)\]\(([^)\s]+)[^)]*\)")]
    private static partial Regex LinkMark();

    [GeneratedRegex(@"(\*\*|__)(?=\S)(.+?)(?<=\S)\1")]
    private static partial Regex Bold();

    [GeneratedRegex(@"(?<![*\w])(\*|_)(?=\S)(.+?)(?<=\S)\1(?![*\w])")]
    private static partial Regex Italic();
}
