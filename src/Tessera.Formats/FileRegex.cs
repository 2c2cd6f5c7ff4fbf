using System.Text.RegularExpressions;

namespace Tessera.Formats;

/// <summary>
/// A regular expression read from a file (a tokenizer.json Split or Replace pattern, PEFT's <c>target_modules</c>):
/// compiled with a match time limit, so a pattern with catastrophic backtracking such as <c>(a+)+$</c> fails with an
/// error that names the file, the field and the pattern instead of hanging the process.
/// </summary>
public sealed class FileRegex
{
    /// <summary>The longest one match may take. Real tokenizer and adapter patterns match in microseconds.</summary>
    public static TimeSpan MatchTimeout { get; } = TimeSpan.FromSeconds(2);

    readonly Regex regex;

    FileRegex(Regex regex, string? path, string field)
    {
        this.regex = regex;
        FilePath = path;
        Field = field;
    }

    /// <summary>The pattern as written in the file.</summary>
    public string Pattern => regex.ToString();

    /// <summary>The file the pattern came from, or null.</summary>
    public string? FilePath { get; }

    /// <summary>What the pattern is in that file (e.g. <c>Split pre_tokenizer pattern</c>).</summary>
    public string Field { get; }

    /// <summary>Compiles <paramref name="pattern"/> with <see cref="MatchTimeout"/>.</summary>
    /// <param name="pattern">The .NET regular expression.</param>
    /// <param name="path">The file it came from (for messages), or null.</param>
    /// <param name="field">What it is in that file (for messages).</param>
    /// <param name="options">Regex options; <see cref="RegexOptions.CultureInvariant"/> by default.</param>
    /// <exception cref="TesseraFormatException">The pattern is not a valid .NET regular expression.</exception>
    public static FileRegex Create(string pattern, string? path, string field, RegexOptions options = RegexOptions.CultureInvariant)
    {
        ArgumentNullException.ThrowIfNull(pattern);
        try
        {
            return new FileRegex(new Regex(pattern, options, MatchTimeout), path, field);
        }
        catch (ArgumentException e)
        {
            throw new TesseraFormatException(path, $"{field}: the regular expression {pattern} is not valid in .NET ({e.Message})", e);
        }
    }

    /// <summary>The matches in <paramref name="input"/>, in order.</summary>
    /// <exception cref="TesseraFormatException">One match took longer than <see cref="MatchTimeout"/>.</exception>
    public IEnumerable<Match> Matches(string input)
    {
        Match m = Guard(input, () => regex.Match(input));
        while (m.Success)
        {
            yield return m;
            Match current = m;
            m = Guard(input, current.NextMatch);
        }
    }

    /// <summary>Whether the pattern matches somewhere in <paramref name="input"/>.</summary>
    /// <exception cref="TesseraFormatException">The match took longer than <see cref="MatchTimeout"/>.</exception>
    public bool IsMatch(string input) => Guard(input, () => regex.IsMatch(input));

    /// <summary>Replaces every match in <paramref name="input"/> with <paramref name="replacement"/> (with $1-style substitutions).</summary>
    /// <exception cref="TesseraFormatException">A match took longer than <see cref="MatchTimeout"/>.</exception>
    public string Replace(string input, string replacement) => Guard(input, () => regex.Replace(input, replacement));

    T Guard<T>(string input, Func<T> match)
    {
        try
        {
            return match();
        }
        catch (RegexMatchTimeoutException e)
        {
            throw new TesseraFormatException(FilePath,
                $"{Field}: the regular expression {Pattern} ran longer than {MatchTimeout.TotalSeconds:0.#} s on a {input.Length}-character input " +
                "(catastrophic backtracking); the pattern must be fixed before this file can be used", e);
        }
    }
}
