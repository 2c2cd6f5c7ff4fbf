namespace Tessera.Training;

/// <summary>Collects values logged by a module during one stage of an epoch.</summary>
internal sealed class MetricCollector
{
    readonly Dictionary<string, (double Sum, double Weight, bool OnEpoch)> epoch = new();

    /// <summary>Values logged since the last <see cref="TakeStepValues"/>.</summary>
    public Dictionary<string, double> Step { get; } = new();

    /// <summary>Names flagged for the progress display.</summary>
    public HashSet<string> ProgressBar { get; } = new();

    public void Add(string name, double value, long weight, bool progressBar, bool onEpoch)
    {
        Step[name] = value;
        if (progressBar) ProgressBar.Add(name);
        epoch.TryGetValue(name, out var acc);
        epoch[name] = (acc.Sum + value * weight, acc.Weight + weight, acc.OnEpoch || onEpoch);
    }

    public Dictionary<string, double> TakeStepValues()
    {
        var copy = new Dictionary<string, double>(Step);
        Step.Clear();
        return copy;
    }

    /// <summary>Weighted epoch means; with <paramref name="onlyFlagged"/>, only the names logged with onEpoch, suffixed <c>_epoch</c>.</summary>
    public Dictionary<string, double> EpochMeans(bool onlyFlagged)
    {
        var result = new Dictionary<string, double>();
        foreach (var (name, acc) in epoch)
        {
            if (acc.Weight <= 0) continue;
            if (onlyFlagged && !acc.OnEpoch) continue;
            result[onlyFlagged ? name + "_epoch" : name] = acc.Sum / acc.Weight;
        }
        return result;
    }

    public void Reset()
    {
        epoch.Clear();
        Step.Clear();
    }
}
