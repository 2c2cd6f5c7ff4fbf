using System.Globalization;
using System.Text;

namespace Tessera.Text.Templates;

internal enum TokenKind { Data, VariableBegin, VariableEnd, BlockBegin, BlockEnd, Name, String, Integer, Float, Operator, End }

internal readonly record struct Token(TokenKind Kind, string Value, int Line)
{
    public bool Is(TokenKind kind, string value) => Kind == kind && Value == value;
    public bool IsName(string value) => Kind == TokenKind.Name && Value == value;
    public bool IsOp(string value) => Kind == TokenKind.Operator && Value == value;
    public override string ToString() => Kind switch
    {
        TokenKind.End => "end of template",
        TokenKind.Data => "template data",
        TokenKind.VariableEnd or TokenKind.BlockEnd or TokenKind.VariableBegin or TokenKind.BlockBegin => $"'{Value}'",
        TokenKind.String => "string literal",
        _ => $"'{Value}'",
    };
}

/// <summary>
/// Splits a template into tokens the way Jinja2's lexer does with <c>trim_blocks</c> and <c>lstrip_blocks</c> on (the
/// environment transformers renders chat templates in): newlines normalized to \n, one trailing newline dropped, the
/// first newline after a block or comment tag removed, spaces and tabs before a block or comment tag on its line
/// removed, <c>-</c> and <c>+</c> whitespace control on every tag.
/// </summary>
internal sealed class Lexer(string source, Func<int, string, TemplateException> error)
{
    static readonly string[] Operators = ["//", "**", "==", "!=", ">=", "<=", "+", "-", "/", "*", "%", "~", "[", "]", "(", ")", "{", "}", ">", "<", "=", ".", ":", "|", ",", ";"];

    readonly List<Token> tokens = [];
    string text = "";
    int pos;
    int line = 1;

    public static string Normalize(string source)
    {
        string s = source.Replace("\r\n", "\n", StringComparison.Ordinal).Replace('\r', '\n');
        return s.EndsWith('\n') ? s[..^1] : s;
    }

    public List<Token> Tokenize()
    {
        text = Normalize(source);
        bool lineStarting = true;
        while (pos < text.Length)
        {
            int start = NextTagStart(pos);
            if (start < 0)
            {
                Emit(TokenKind.Data, text[pos..]);
                break;
            }
            char kind = text[start + 1];
            int after = start + 2;
            char sign = after < text.Length && text[after] is '-' or '+' ? text[after] : '\0';
            if (sign != '\0') after++;
            string data = text[pos..start];
            int newlines = Count(data, '\n');
            if (sign == '-') data = data.TrimEnd(PyWhitespace);
            else if (sign != '+' && kind != '{')
            {
                int lpos = data.LastIndexOf('\n') + 1;
                if ((lpos > 0 || lineStarting) && lpos < data.Length && data.AsSpan(lpos).IndexOfAnyExcept(PyWhitespace) < 0)
                    data = data[..lpos];
            }
            if (data.Length > 0) tokens.Add(new Token(TokenKind.Data, data, line));
            line += newlines;
            pos = after;
            if (kind == '#') lineStarting = Comment();
            else if (kind == '%' && TryRaw(out bool rawLineStarting)) lineStarting = rawLineStarting;
            else lineStarting = Tag(kind == '{');
        }
        tokens.Add(new Token(TokenKind.End, "", line));
        return tokens;
    }

    internal static readonly char[] PyWhitespace = [' ', '\t', '\n', '\v', '\f', '\r', '\x1c', '\x1d', '\x1e', '\x1f', '\x85', '\xa0', '\u1680', '\u2000', '\u2001', '\u2002', '\u2003', '\u2004', '\u2005', '\u2006', '\u2007', '\u2008', '\u2009', '\u200a', '\u2028', '\u2029', '\u202f', '\u205f', '\u3000'];

    int NextTagStart(int from)
    {
        int i = from;
        while (true)
        {
            i = text.IndexOf('{', i);
            if (i < 0 || i + 1 >= text.Length) return -1;
            if (text[i + 1] is '{' or '%' or '#') return i;
            i++;
        }
    }

    static int Count(string s, char c)
    {
        int n = 0;
        foreach (char x in s) if (x == c) n++;
        return n;
    }

    void Emit(TokenKind kind, string value)
    {
        if (value.Length > 0 || kind != TokenKind.Data) tokens.Add(new Token(kind, value, line));
        line += Count(value, '\n');
    }

    /// <summary>Skips a comment up to its end tag; whether what was consumed ends a line.</summary>
    bool Comment()
    {
        int end = text.IndexOf("#}", pos, StringComparison.Ordinal);
        if (end < 0) throw error(line, "missing end of comment tag");
        char sign = end > pos && text[end - 1] is '-' or '+' ? text[end - 1] : '\0';
        line += Count(text[pos..end], '\n');
        pos = end + 2;
        return EndTag(sign);
    }

    /// <summary>Consumes what follows an end tag (whitespace after <c>-</c>, one newline without a sign); whether it ended with a newline.</summary>
    bool EndTag(char sign, bool trimNewline = true)
    {
        int from = pos;
        if (sign == '-') while (pos < text.Length && Array.IndexOf(PyWhitespace, text[pos]) >= 0) pos++;
        else if (sign != '+' && trimNewline && pos < text.Length && text[pos] == '\n') pos++;
        line += Count(text[from..pos], '\n');
        return pos > from && text[pos - 1] == '\n';
    }

    bool TryRaw(out bool lineStarting)
    {
        lineStarting = false;
        int i = SkipSpaces(pos);
        if (!Word(i, "raw")) return false;
        int j = SkipSpaces(i + 3);
        char sign = '\0';
        if (j < text.Length && text[j] == '-') { sign = '-'; j++; }
        if (!(j + 1 < text.Length && text[j] == '%' && text[j + 1] == '}')) return false;
        line += Count(text[pos..j], '\n');
        pos = j + 2;
        EndTag(sign, trimNewline: false);
        // The body runs to {% endraw %}; its end tag follows the same rules as any block end.
        int search = pos;
        while (true)
        {
            int start = text.IndexOf("{%", search, StringComparison.Ordinal);
            if (start < 0) throw error(line, "missing end of raw directive");
            int k = start + 2;
            char open = k < text.Length && text[k] is '-' or '+' ? text[k] : '\0';
            if (open != '\0') k++;
            k = SkipSpaces(k);
            if (!Word(k, "endraw")) { search = start + 2; continue; }
            k = SkipSpaces(k + 6);
            char close = k < text.Length && text[k] is '-' or '+' ? text[k] : '\0';
            if (close != '\0') k++;
            if (!(k + 1 < text.Length && text[k] == '%' && text[k + 1] == '}')) { search = start + 2; continue; }
            string body = text[pos..start];
            if (open == '-') body = body.TrimEnd(PyWhitespace);
            else if (open != '+')
            {
                int lpos = body.LastIndexOf('\n') + 1;
                if (lpos > 0 && lpos < body.Length && body.AsSpan(lpos).IndexOfAnyExcept(PyWhitespace) < 0) body = body[..lpos];
            }
            if (body.Length > 0) tokens.Add(new Token(TokenKind.Data, body, line));
            line += Count(text[pos..k], '\n');
            pos = k + 2;
            lineStarting = EndTag(close);
            return true;
        }
    }

    int SkipSpaces(int i)
    {
        while (i < text.Length && char.IsWhiteSpace(text[i])) i++;
        return i;
    }

    bool Word(int i, string word) =>
        string.CompareOrdinal(text, i, word, 0, word.Length) == 0 && (i + word.Length >= text.Length || !IsNameChar(text[i + word.Length]));

    static bool IsNameStart(char c) => c == '_' || char.IsLetter(c);

    static bool IsNameChar(char c) => c == '_' || char.IsLetterOrDigit(c);

    /// <summary>Tokenizes a <c>{{ }}</c> or <c>{% %}</c> tag up to its end; whether what was consumed ends a line.</summary>
    bool Tag(bool variable)
    {
        tokens.Add(new Token(variable ? TokenKind.VariableBegin : TokenKind.BlockBegin, variable ? "{{" : "{%", line));
        int depth = 0;
        while (true)
        {
            if (pos >= text.Length) throw error(line, $"unexpected end of template; the {(variable ? "'{{'" : "'{%'")} tag is not closed");
            if (depth == 0)
            {
                string close = variable ? "}}" : "%}";
                char sign = text[pos] is '-' or '+' ? text[pos] : '\0';
                int at = sign != '\0' ? pos + 1 : pos;
                if (string.CompareOrdinal(text, at, close, 0, 2) == 0 && !(variable && sign == '+'))
                {
                    tokens.Add(new Token(variable ? TokenKind.VariableEnd : TokenKind.BlockEnd, close, line));
                    pos = at + 2;
                    return EndTag(sign, trimNewline: !variable);
                }
            }
            char c = text[pos];
            if (char.IsWhiteSpace(c))
            {
                if (c == '\n') line++;
                pos++;
            }
            else if (char.IsAsciiDigit(c)) Number();
            else if (IsNameStart(c))
            {
                int s = pos;
                while (pos < text.Length && IsNameChar(text[pos])) pos++;
                tokens.Add(new Token(TokenKind.Name, text[s..pos], line));
            }
            else if (c is '\'' or '"') String(c);
            else
            {
                string? op = null;
                foreach (string o in Operators)
                    if (string.CompareOrdinal(text, pos, o, 0, o.Length) == 0) { op = o; break; }
                if (op is null) throw error(line, $"unexpected character '{c}'");
                if (op is "(" or "[" or "{") depth++;
                else if (op is ")" or "]" or "}")
                {
                    if (depth == 0) throw error(line, $"unexpected '{op}'");
                    depth--;
                }
                tokens.Add(new Token(TokenKind.Operator, op, line));
                pos += op.Length;
            }
        }
    }

    void Number()
    {
        int s = pos;
        Digits();
        bool isFloat = false;
        if (pos + 1 < text.Length && text[pos] == '.' && char.IsAsciiDigit(text[pos + 1]))
        {
            isFloat = true;
            pos++;
            Digits();
        }
        if (pos < text.Length && text[pos] is 'e' or 'E')
        {
            int e = pos + 1;
            if (e < text.Length && text[e] is '+' or '-') e++;
            if (e < text.Length && char.IsAsciiDigit(text[e]))
            {
                isFloat = true;
                pos = e;
                Digits();
            }
        }
        string literal = text[s..pos].Replace("_", "", StringComparison.Ordinal);
        tokens.Add(new Token(isFloat ? TokenKind.Float : TokenKind.Integer, literal, line));
    }

    void Digits()
    {
        while (pos < text.Length && (char.IsAsciiDigit(text[pos]) || (text[pos] == '_' && pos + 1 < text.Length && char.IsAsciiDigit(text[pos + 1])))) pos++;
    }

    void String(char quote)
    {
        int startLine = line;
        var value = new StringBuilder();
        pos++;
        while (true)
        {
            if (pos >= text.Length) throw error(startLine, "unterminated string literal");
            char c = text[pos];
            if (c == quote) { pos++; break; }
            if (c == '\n') line++;
            if (c != '\\') { value.Append(c); pos++; continue; }
            if (pos + 1 >= text.Length) throw error(startLine, "unterminated string literal");
            char e = text[pos + 1];
            pos += 2;
            switch (e)
            {
                case 'n': value.Append('\n'); break;
                case 't': value.Append('\t'); break;
                case 'r': value.Append('\r'); break;
                case '\\': value.Append('\\'); break;
                case '\'': value.Append('\''); break;
                case '"': value.Append('"'); break;
                case 'a': value.Append('\a'); break;
                case 'b': value.Append('\b'); break;
                case 'f': value.Append('\f'); break;
                case 'v': value.Append('\v'); break;
                case '0': value.Append('\0'); break;
                case '\n': line++; break;
                case 'x': value.Append(Hex(2, startLine)); break;
                case 'u': value.Append(Hex(4, startLine)); break;
                case 'U': value.Append(Hex(8, startLine)); break;
                default: value.Append('\\').Append(e); break;
            }
        }
        tokens.Add(new Token(TokenKind.String, value.ToString(), startLine));
    }

    string Hex(int digits, int startLine)
    {
        if (pos + digits > text.Length || !int.TryParse(text.AsSpan(pos, digits), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out int code) || code > 0x10FFFF)
            throw error(startLine, $"invalid \\{(digits == 2 ? 'x' : digits == 4 ? 'u' : 'U')} escape in a string literal");
        pos += digits;
        return char.ConvertFromUtf32(code is >= 0xD800 and <= 0xDFFF ? 0xFFFD : code);
    }
}
