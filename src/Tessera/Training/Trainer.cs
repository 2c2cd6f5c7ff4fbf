namespace Tessera.Training;

/// <summary>Runs training, validation, test and prediction loops for a <see cref="TrainingModule{TBatch}"/>.</summary>
public sealed class Trainer
{
    /// <summary>Latest metrics (step values and epoch means) that callbacks can monitor.</summary>
    public IReadOnlyDictionary<string, double> CallbackMetrics => callbackMetrics;
    readonly Dictionary<string, double> callbackMetrics = new();
}
