using System.Text;

namespace Tessera.Text.Templates;

/// <summary>Python's binary operators and <c>in</c> on template values (bools count as integers, as in Python).</summary>
internal static class Arithmetic
{
    public static object? Binary(Interpreter interp, string op, object? a, object? b)
    {
        if (a is Undefined ua) throw new TemplateRuntimeError(ua.Hint);
        if (b is Undefined ub) throw new TemplateRuntimeError(ub.Hint);
        bool numbers = Values.IsNumber(a) && Values.IsNumber(b);
        bool ints = numbers && a is not double && b is not double;
        try
        {
            switch (op)
            {
                case "+":
                    if (ints) return checked(Values.ToLong(a) + Values.ToLong(b));
                    if (numbers) return Values.ToDouble(a) + Values.ToDouble(b);
                    if (a is string s && b is string t) return interp.Checked(s + t);
                    if (a is List<object?> l && b is List<object?> m) return interp.Checked([.. l, .. m]);
                    if (a is object?[] x && b is object?[] y) return (object?[])[.. x, .. y];
                    break;
                case "-":
                    if (ints) return checked(Values.ToLong(a) - Values.ToLong(b));
                    if (numbers) return Values.ToDouble(a) - Values.ToDouble(b);
                    break;
                case "*":
                    if (ints) return checked(Values.ToLong(a) * Values.ToLong(b));
                    if (numbers) return Values.ToDouble(a) * Values.ToDouble(b);
                    if (a is string && (b is long or bool)) return Repeat(interp, (string)a, Values.ToLong(b));
                    if (b is string && (a is long or bool)) return Repeat(interp, (string)b, Values.ToLong(a));
                    if (a is List<object?> la && (b is long or bool)) return RepeatList(interp, la, Values.ToLong(b));
                    if (b is List<object?> lb && (a is long or bool)) return RepeatList(interp, lb, Values.ToLong(a));
                    break;
                case "/":
                    if (numbers)
                    {
                        if (Values.ToDouble(b) == 0) throw new TemplateRuntimeError("division by zero");
                        return Values.ToDouble(a) / Values.ToDouble(b);
                    }
                    break;
                case "//":
                    if (ints)
                    {
                        long d = Values.ToLong(b);
                        if (d == 0) throw new TemplateRuntimeError("integer division or modulo by zero");
                        long n = Values.ToLong(a);
                        long q = n / d;
                        if ((n % d != 0) && ((n < 0) != (d < 0))) q--;
                        return q;
                    }
                    if (numbers)
                    {
                        if (Values.ToDouble(b) == 0) throw new TemplateRuntimeError("float floor division by zero");
                        return Math.Floor(Values.ToDouble(a) / Values.ToDouble(b));
                    }
                    break;
                case "%":
                    if (ints)
                    {
                        long d = Values.ToLong(b);
                        if (d == 0) throw new TemplateRuntimeError("integer division or modulo by zero");
                        long r = Values.ToLong(a) % d;
                        return r != 0 && ((r < 0) != (d < 0)) ? r + d : r;
                    }
                    if (numbers)
                    {
                        double d = Values.ToDouble(b);
                        if (d == 0) throw new TemplateRuntimeError("float modulo");
                        double r = Values.ToDouble(a) % d;
                        return r != 0 && ((r < 0) != (d < 0)) ? r + d : r;
                    }
                    if (a is string) throw new TemplateRuntimeError("printf-style string formatting with % is not supported; use ~ or the format filter");
                    break;
                case "**":
                    if (ints && Values.ToLong(b) >= 0)
                    {
                        long result = 1, n = Values.ToLong(a);
                        for (long e = Values.ToLong(b); e > 0; e--)
                        {
                            result = checked(result * n);
                            if (result == 0 || result == 1 && n == 1) break;
                        }
                        return result;
                    }
                    if (numbers) return Math.Pow(Values.ToDouble(a), Values.ToDouble(b));
                    break;
            }
        }
        catch (OverflowException)
        {
            throw new TemplateRuntimeError($"integer overflow in {Values.Repr(a)} {op} {Values.Repr(b)}");
        }
        throw new TemplateRuntimeError($"unsupported operand type(s) for {op}: '{Values.TypeName(a)}' and '{Values.TypeName(b)}'");
    }

    static string Repeat(Interpreter interp, string s, long n)
    {
        if (n <= 0 || s.Length == 0) return "";
        if (n * (double)s.Length > interp.Options.MaxOutputLength) interp.Checked(new string(' ', interp.Options.MaxOutputLength + 1));
        return new StringBuilder(s.Length * (int)n).Insert(0, s, (int)n).ToString();
    }

    static List<object?> RepeatList(Interpreter interp, List<object?> l, long n)
    {
        if (n <= 0 || l.Count == 0) return [];
        if (n * (double)l.Count > interp.Options.MaxOutputLength) throw new TemplateRuntimeError($"a list grew beyond {interp.Options.MaxOutputLength} items (TemplateOptions.MaxOutputLength)");
        var result = new List<object?>();
        for (long i = 0; i < n; i++) result.AddRange(l);
        return result;
    }

    /// <summary>Python's <c>item in container</c>.</summary>
    public static bool Contains(object? container, object? item) => container switch
    {
        string s => item is string t ? s.Contains(t, StringComparison.Ordinal) : throw new TemplateRuntimeError($"'in <string>' requires string as left operand, not {Values.TypeName(item)}"),
        Dictionary<object, object?> d => item is not null && item is not Undefined && d.Keys.Any(k => Values.PyEquals(k, item)),
        List<object?> or object?[] => Values.Iterate(container).Any(x => Values.PyEquals(x, item)),
        Undefined => false,
        _ => throw new TemplateRuntimeError($"argument of type '{Values.TypeName(container)}' is not iterable"),
    };
}
