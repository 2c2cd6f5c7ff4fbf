namespace Tessera.Training.Schedules;

/// <summary>The same learning rate at every step.</summary>
/// <param name="Lr">The learning rate.</param>
public sealed record ConstantSchedule(double Lr) : ILrSchedule
{
    /// <inheritdoc />
    public double LearningRate(long step) => Lr;
}
