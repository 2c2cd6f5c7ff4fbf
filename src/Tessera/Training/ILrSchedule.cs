namespace Tessera.Training;

/// <summary>
/// A learning-rate schedule: a pure function from the optimizer step (0-based) to a learning rate. The
/// <see cref="Trainer"/> gives that rate to the optimizer's first parameter group and scales every other group by the
/// ratio it had to the first when the optimizer was configured, so a head at 10x the body's rate stays at 10x through
/// warmup and decay (<see cref="Schedules.LrScheduling.GroupScales"/>).
/// </summary>
public interface ILrSchedule
{
    /// <summary>The learning rate to use for optimizer step <paramref name="step"/>.</summary>
    double LearningRate(long step);
}
