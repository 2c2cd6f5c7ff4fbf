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

    /// <summary>
    /// Each parameter group's learning rate relative to the first group's, as the optimizer is set now: <c>[1, 10]</c>
    /// for a body at 1e-4 and a head at 1e-3. All 1 when the first group's rate is 0 or not finite.
    /// </summary>
    public static double[] GroupScales(torch.optim.Optimizer optimizer)
    {
        ArgumentNullException.ThrowIfNull(optimizer);
        double[] rates = optimizer.ParamGroups.Select(g => g.LearningRate).ToArray();
        if (rates.Length == 0 || !(rates[0] > 0) || double.IsInfinity(rates[0])) return rates.Select(_ => 1.0).ToArray();
        return rates.Select(r => r / rates[0]).ToArray();
    }

    /// <summary>
    /// Sets parameter group <c>i</c> to <paramref name="lr"/> × <paramref name="groupScales"/>[i] (1 past the list's end),
    /// so a schedule moves every group while each keeps its own base rate (see <see cref="GroupScales"/>).
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="lr"/> is negative or not finite.</exception>
    public static void Apply(torch.optim.Optimizer optimizer, double lr, IReadOnlyList<double> groupScales)
    {
        ArgumentNullException.ThrowIfNull(optimizer);
        ArgumentNullException.ThrowIfNull(groupScales);
        if (!(lr >= 0) || double.IsInfinity(lr))
            throw new ArgumentOutOfRangeException(nameof(lr), lr, "Learning rate must be finite and non-negative.");
        int i = 0;
        foreach (var group in optimizer.ParamGroups)
        {
            group.LearningRate = lr * (i < groupScales.Count ? groupScales[i] : 1.0);
            i++;
        }
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
