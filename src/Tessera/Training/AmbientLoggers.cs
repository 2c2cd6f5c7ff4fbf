namespace Tessera.Training;

/// <summary>
/// Loggers that every <see cref="Trainer"/> created inside a scope uses as well as its
/// <see cref="TrainerOptions.Loggers"/>: how an application sends the metrics of trainers it does not build itself
/// (those inside a recipe) to its own logger, as they are logged. <c>tessera</c>'s run tracking uses it to put a
/// training's metrics into the runs store while it runs. The scope follows the async flow (like
/// <see cref="System.Diagnostics.Activity.Current"/>): concurrent flows do not see each other's loggers and nothing
/// process-wide changes.
/// </summary>
/// <example>
/// <code>
/// using (AmbientLoggers.Attach(new RunLogger(run)))
///     FashionMnistTraining.Run(options);
/// </code>
/// </example>
public static class AmbientLoggers
{
    static readonly AsyncLocal<IMetricsLogger[]?> current = new();

    /// <summary>The loggers attached in the calling flow, outermost first.</summary>
    public static IReadOnlyList<IMetricsLogger> Current => current.Value ?? [];

    /// <summary>
    /// Attaches <paramref name="logger"/> in the calling flow until the returned scope is disposed (in that flow).
    /// Trainers created before keep the loggers they started with. The caller still owns (and disposes) the logger.
    /// </summary>
    public static IDisposable Attach(IMetricsLogger logger)
    {
        ArgumentNullException.ThrowIfNull(logger);
        var previous = current.Value;
        current.Value = [.. previous ?? [], logger];
        return new Scope(previous);
    }

    sealed class Scope(IMetricsLogger[]? previous) : IDisposable
    {
        bool disposed;

        public void Dispose()
        {
            if (disposed) return;
            disposed = true;
            current.Value = previous;
        }
    }
}
