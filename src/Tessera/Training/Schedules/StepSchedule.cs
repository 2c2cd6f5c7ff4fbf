namespace Tessera.Training.Schedules;

/// <summary>
/// Multiplies the learning rate by <see cref="Gamma"/> every <see cref="StepSize"/> steps
/// (the closed form of torch's <c>StepLR</c>): <c>baseLr * gamma^floor(step / stepSize)</c>.
/// </summary>
public sealed class StepSchedule : ILrSchedule
{
    /// <summary>Creates the schedule.</summary>
    /// <param name="baseLr">Learning rate of the first <paramref name="stepSize"/> steps.</param>
    /// <param name="stepSize">Steps between decays; at least 1.</param>
    /// <param name="gamma">Decay factor applied at each boundary.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="stepSize"/> is less than 1.</exception>
    public StepSchedule(double baseLr, long stepSize, double gamma = 0.1)
    {
        if (stepSize < 1) throw new ArgumentOutOfRangeException(nameof(stepSize), stepSize, "Step size must be at least 1.");
        BaseLr = baseLr;
        StepSize = stepSize;
        Gamma = gamma;
    }

    /// <summary>Learning rate before the first decay.</summary>
    public double BaseLr { get; }

    /// <summary>Steps between decays.</summary>
    public long StepSize { get; }

    /// <summary>Decay factor.</summary>
    public double Gamma { get; }

    /// <inheritdoc />
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="step"/> is negative.</exception>
    public double LearningRate(long step)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(step);
        return BaseLr * Math.Pow(Gamma, step / StepSize);
    }
}
