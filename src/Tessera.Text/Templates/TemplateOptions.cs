namespace Tessera.Text.Templates;

/// <summary>
/// Bounds on parsing and rendering a <see cref="JinjaTemplate"/>, so that a hostile template file can neither hang
/// the process nor exhaust its memory. Every limit reached is a <see cref="TemplateException"/>.
/// </summary>
public sealed record TemplateOptions
{
    /// <summary>Longest template source, in characters.</summary>
    public int MaxTemplateLength { get; init; } = 1_000_000;

    /// <summary>Longest rendered output (and longest string or list built while rendering), in characters or items.</summary>
    public int MaxOutputLength { get; init; } = 16_000_000;

    /// <summary>Most evaluation steps per render (one per statement, expression and loop iteration).</summary>
    public long MaxSteps { get; init; } = 20_000_000;

    /// <summary>Deepest nesting of blocks and expressions in the source, and of macro calls while rendering.</summary>
    public int MaxDepth { get; init; } = 200;

    /// <summary>The clock <c>strftime_now(format)</c> reads.</summary>
    public TimeProvider Clock { get; init; } = TimeProvider.System;

    /// <summary>The default limits.</summary>
    public static TemplateOptions Default { get; } = new();
}
