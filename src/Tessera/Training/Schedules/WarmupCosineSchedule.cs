namespace Tessera.Training.Schedules;

/// <summary>
/// Linear warmup from 0 to <see cref="BaseLr"/> over <see cref="WarmupSteps"/> steps, then half a cosine down to
/// <see cref="MinLr"/> at <see cref="TotalSteps"/>, and <see cref="MinLr"/> after that. With <c>minLr = 0</c> this
/// equals Hugging Face's <c>get_cosine_schedule_with_warmup</c> (up to <see cref="TotalSteps"/>).
/// </summary>
public sealed class WarmupCosineSchedule : ILrSchedule
{
    /// <summary>Creates the schedule.</summary>
    /// <param name="baseLr">Peak learning rate, reached at step <paramref name="warmupSteps"/>.</param>
    /// <param name="warmupSteps">Steps of linear warmup; 0 for none.</param>
    /// <param name="totalSteps">Step at which the cosine reaches <paramref name="minLr"/>; at least <paramref name="warmupSteps"/>.</param>
    /// <param name="minLr">Floor of the cosine.</param>
    /// <exception cref="ArgumentOutOfRangeException">A step count is negative or <paramref name="totalSteps"/> is below <paramref name="warmupSteps"/>.</exception>
    public WarmupCosineSchedule(double baseLr, long warmupSteps, long totalSteps, double minLr = 0)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(warmupSteps);
        if (totalSteps < warmupSteps)
            throw new ArgumentOutOfRangeException(nameof(totalSteps), totalSteps, $"Total steps must be at least the warmup steps ({warmupSteps}).");
        BaseLr = baseLr;
        WarmupSteps = warmupSteps;
        TotalSteps = totalSteps;
        MinLr = minLr;
    }

    /// <summary>Peak learning rate.</summary>
    public double BaseLr { get; }

    /// <summary>Steps of linear warmup.</summary>
    public long WarmupSteps { get; }

    /// <summary>Step at which the learning rate reaches <see cref="MinLr"/>.</summary>
    public long TotalSteps { get; }

    /// <summary>Learning rate at and after <see cref="TotalSteps"/>.</summary>
    public double MinLr { get; }

    /// <inheritdoc />
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="step"/> is negative.</exception>
    public double LearningRate(long step)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(step);
        if (step < WarmupSteps) return BaseLr * ((double)step / Math.Max(1, WarmupSteps));
        double progress = (double)(step - WarmupSteps) / Math.Max(1, TotalSteps - WarmupSteps);
        if (progress >= 1) return MinLr;
        return MinLr + (BaseLr - MinLr) * (0.5 * (1.0 + Math.Cos(Math.PI * progress)));
    }
}
