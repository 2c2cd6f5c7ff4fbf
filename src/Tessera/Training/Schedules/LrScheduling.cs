using TorchSharp;

namespace Tessera.Training.Schedules;

/// <summary>Applies learning rates to TorchSharp optimizers.</summary>
/// <remarks>Not named <c>Schedules</c>: inside <c>Tessera.Training</c> that name would bind to this namespace.</remarks>
public static class LrScheduling
{
    /// <summary>Sets the learning rate of every parameter group of <paramref name="optimizer"/> to <paramref name="lr"/>.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="lr"/> is negative or not finite.</exception>
    public static void Apply(torch.optim.Optimizer optimizer, double lr)
    {
        ArgumentNullException.ThrowIfNull(optimizer);
        if (!(lr >= 0) || double.IsInfinity(lr))
            throw new ArgumentOutOfRangeException(nameof(lr), lr, "Learning rate must be finite and non-negative.");
        foreach (var group in optimizer.ParamGroups) group.LearningRate = lr;
    }

    /// <summary>Sets every parameter group to <paramref name="schedule"/>'s rate for <paramref name="step"/> and returns that rate.</summary>
    public static double Apply(torch.optim.Optimizer optimizer, ILrSchedule schedule, long step)
    {
        ArgumentNullException.ThrowIfNull(schedule);
        double lr = schedule.LearningRate(step);
        Apply(optimizer, lr);
        return lr;
    }
}
