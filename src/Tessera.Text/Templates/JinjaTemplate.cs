namespace Tessera.Text.Templates;

/// <summary>
/// A template in the subset of Jinja2 that Hugging Face chat templates use, rendered as transformers renders them
/// (Jinja2's immutable sandbox with <c>trim_blocks</c>, <c>lstrip_blocks</c> and loop controls): <c>{% for %}</c> with
/// <c>loop.*</c>, <c>{% if/elif/else %}</c>, <c>{% set %}</c> and <c>namespace()</c>, <c>{% macro %}</c>,
/// <c>{% filter %}</c>, <c>{% generation %}</c>, <c>{% raw %}</c>, break and continue; expressions with Python's
/// semantics, filters, tests, slices and the string and dict methods templates call. No file system, no imports.
/// </summary>
/// <example><code>
/// var template = JinjaTemplate.Parse("{% for m in messages %}{{ m.role }}: {{ m.content | trim }}\n{% endfor %}");
/// string text = template.Render(new Dictionary&lt;string, object?&gt; { ["messages"] = messages });
/// </code></example>
public sealed class JinjaTemplate
{
    readonly IReadOnlyList<Stmt> body;

    JinjaTemplate(string source, IReadOnlyList<Stmt> body, string? path, string name, TemplateOptions options)
    {
        Source = source;
        this.body = body;
        Path = path;
        Name = name;
        Options = options;
    }

    /// <summary>The template text.</summary>
    public string Source { get; }

    /// <summary>The file the template came from, named in errors; null when it came from a string.</summary>
    public string? Path { get; }

    /// <summary>The template's name in errors (e.g. <c>chat_template</c>).</summary>
    public string Name { get; }

    /// <summary>The limits parsing used and rendering uses.</summary>
    public TemplateOptions Options { get; }

    /// <summary>Parses <paramref name="source"/>.</summary>
    /// <param name="source">The template text.</param>
    /// <param name="path">The file it came from, for error messages.</param>
    /// <param name="name">The template's name for error messages.</param>
    /// <param name="options">Limits; <see cref="TemplateOptions.Default"/> when null.</param>
    /// <exception cref="TemplateException">A syntax error, an unknown filter, test or tag, or a limit of <paramref name="options"/> reached; the message names the line.</exception>
    public static JinjaTemplate Parse(string source, string? path = null, string name = "template", TemplateOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(source);
        options ??= TemplateOptions.Default;
        TemplateException Error(int line, string message) => new(path, name, line, message);
        if (source.Length > options.MaxTemplateLength)
            throw Error(0, $"the template has {source.Length} characters; at most {options.MaxTemplateLength} are allowed (TemplateOptions.MaxTemplateLength)");
        var tokens = new Lexer(source, Error).Tokenize();
        var body = new Parser(tokens, options.MaxDepth, Error).ParseTemplate();
        return new JinjaTemplate(source, body, path, name, options);
    }

    /// <summary>Renders the template with <paramref name="variables"/> (strings, numbers, bools, null, lists, dictionaries, JSON elements).</summary>
    /// <exception cref="TemplateException">Rendering failed: the template called <c>raise_exception</c> (see <see cref="TemplateException.RaisedByTemplate"/>), used a value wrongly, or reached a limit; the message names the line.</exception>
    /// <exception cref="ArgumentException">A variable's value has a type templates cannot see.</exception>
    public string Render(IReadOnlyDictionary<string, object?> variables)
    {
        ArgumentNullException.ThrowIfNull(variables);
        var globals = new Scope(null);
        foreach (var (fname, function) in Builtins.Globals(Name)) globals.Set(fname, function);
        var scope = new Scope(globals);
        foreach (var (key, value) in variables) scope.Set(key, Values.FromHost(value));
        var interpreter = new Interpreter(Options);
        try
        {
            return interpreter.Render(body, scope);
        }
        catch (TemplateRuntimeError e)
        {
            throw new TemplateException(Path, Name, interpreter.Line, e.RaisedByTemplate ? $"the template raised an error: {e.Message}" : e.Message, e.RaisedByTemplate, e);
        }
        catch (InvalidCastException e)
        {
            throw new TemplateException(Path, Name, interpreter.Line, $"a value has the wrong type ({e.Message})", inner: e);
        }
        catch (InsufficientExecutionStackException e)
        {
            throw new TemplateException(Path, Name, interpreter.Line, "the template recurses too deeply", inner: e);
        }
    }
}
