namespace Tessera.Training;

/// <summary>A learning-rate schedule: a pure function from the optimizer step (0-based) to a learning rate.</summary>
public interface ILrSchedule
{
    /// <summary>The learning rate to use for optimizer step <paramref name="step"/>.</summary>
    double LearningRate(long step);
}
