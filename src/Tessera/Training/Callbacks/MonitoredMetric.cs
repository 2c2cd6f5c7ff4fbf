namespace Tessera.Training.Callbacks;

/// <summary>Reads a monitored metric from a trainer, with the error Lightning users expect when it is missing.</summary>
internal static class MonitoredMetric
{
    public static double Read(Trainer trainer, string monitor, string owner)
    {
        if (trainer.CallbackMetrics.TryGetValue(monitor, out double value)) return value;
        string available = trainer.CallbackMetrics.Count == 0 ? "none" : string.Join(", ", trainer.CallbackMetrics.Keys.Order());
        throw new InvalidOperationException($"{owner}: monitored metric '{monitor}' was not logged; available metrics: {available}");
    }

    public static bool Improves(double candidate, double best, MonitorMode mode, double minDelta = 0) =>
        double.IsNaN(best) ? !double.IsNaN(candidate)
        : mode == MonitorMode.Min ? candidate < best - minDelta : candidate > best + minDelta;
}
