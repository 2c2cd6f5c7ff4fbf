using Tessera.Formats;

namespace Tessera.Text.Templates;

/// <summary>
/// A chat template that cannot be parsed or rendered: a syntax error, a runtime error (an unknown variable's attribute,
/// a type mismatch), <c>raise_exception(...)</c> called by the template itself, or a limit of
/// <see cref="TemplateOptions"/> reached. The message names the file, the template and the line.
/// </summary>
public sealed class TemplateException : TesseraFormatException
{
    /// <summary>Creates the exception for <paramref name="path"/> (the file the template came from, if any).</summary>
    public TemplateException(string? path, string template, int line, string message, bool raisedByTemplate = false, Exception? inner = null)
        : base(path, line > 0 ? $"{template} line {line}: {message}" : $"{template}: {message}", inner)
    {
        Line = line;
        Detail = message;
        RaisedByTemplate = raisedByTemplate;
    }

    /// <summary>The template line the error is on (1-based); 0 when it concerns the whole template.</summary>
    public int Line { get; }

    /// <summary>The message without the file, template and line.</summary>
    public string Detail { get; }

    /// <summary>Whether the template itself refused the input with <c>raise_exception(message)</c> (e.g. roles that do not alternate).</summary>
    public bool RaisedByTemplate { get; }
}
