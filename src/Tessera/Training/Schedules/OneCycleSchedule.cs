namespace Tessera.Training.Schedules;

/// <summary>
/// The 1cycle policy with cosine annealing, step for step as torch's <c>OneCycleLR</c>: from
/// <c>maxLr / divFactor</c> up to <see cref="MaxLr"/> over the first <see cref="PctStart"/> of the steps, then down to
/// <c>initial / finalDivFactor</c> (with <see cref="ThreePhase"/>: back down to the initial LR symmetrically, then to the minimum).
/// </summary>
/// <remarks>
/// As in torch, the phases end at steps <c>pctStart * totalSteps - 1</c> (and <c>2 * pctStart * totalSteps - 2</c>)
/// and <c>totalSteps - 1</c>, as floating-point numbers. Steps past <c>totalSteps - 1</c> stay at the minimum LR
/// (torch raises instead).
/// </remarks>
public sealed class OneCycleSchedule : ILrSchedule
{
    readonly (double EndStep, double StartLr, double EndLr)[] phases;

    /// <summary>Creates the schedule.</summary>
    /// <param name="maxLr">Peak learning rate.</param>
    /// <param name="totalSteps">Number of optimizer steps in the cycle; at least 1.</param>
    /// <param name="pctStart">Fraction of the steps spent increasing the LR, in [0, 1].</param>
    /// <param name="divFactor">Initial LR = <paramref name="maxLr"/> / <paramref name="divFactor"/>.</param>
    /// <param name="finalDivFactor">Minimum LR = initial LR / <paramref name="finalDivFactor"/>.</param>
    /// <param name="threePhase">Anneal back to the initial LR before the final decay (fastai-style two phases when false).</param>
    /// <exception cref="ArgumentOutOfRangeException">An argument is out of range.</exception>
    public OneCycleSchedule(double maxLr, long totalSteps, double pctStart = 0.3, double divFactor = 25,
        double finalDivFactor = 1e4, bool threePhase = false)
    {
        if (totalSteps < 1) throw new ArgumentOutOfRangeException(nameof(totalSteps), totalSteps, "Total steps must be at least 1.");
        if (!(pctStart >= 0 && pctStart <= 1)) throw new ArgumentOutOfRangeException(nameof(pctStart), pctStart, "pctStart must lie in [0, 1].");
        if (!(divFactor > 0)) throw new ArgumentOutOfRangeException(nameof(divFactor), divFactor, "divFactor must be positive.");
        if (!(finalDivFactor > 0)) throw new ArgumentOutOfRangeException(nameof(finalDivFactor), finalDivFactor, "finalDivFactor must be positive.");
        MaxLr = maxLr;
        TotalSteps = totalSteps;
        PctStart = pctStart;
        DivFactor = divFactor;
        FinalDivFactor = finalDivFactor;
        ThreePhase = threePhase;

        double initial = InitialLr, min = MinLr;
        phases = threePhase
            ? [
                (pctStart * totalSteps - 1, initial, maxLr),
                (2 * pctStart * totalSteps - 2, maxLr, initial),
                (totalSteps - 1, initial, min),
            ]
            : [
                (pctStart * totalSteps - 1, initial, maxLr),
                (totalSteps - 1, maxLr, min),
            ];
    }

    /// <summary>Peak learning rate.</summary>
    public double MaxLr { get; }

    /// <summary>Number of steps in the cycle.</summary>
    public long TotalSteps { get; }

    /// <summary>Fraction of the steps spent warming up.</summary>
    public double PctStart { get; }

    /// <summary>Ratio of the peak to the initial LR.</summary>
    public double DivFactor { get; }

    /// <summary>Ratio of the initial to the minimum LR.</summary>
    public double FinalDivFactor { get; }

    /// <summary>Whether the cycle has three phases.</summary>
    public bool ThreePhase { get; }

    /// <summary>Learning rate at step 0.</summary>
    public double InitialLr => MaxLr / DivFactor;

    /// <summary>Learning rate at the last step.</summary>
    public double MinLr => InitialLr / FinalDivFactor;

    /// <inheritdoc />
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="step"/> is negative.</exception>
    public double LearningRate(long step)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(step);
        if (step >= TotalSteps - 1) return phases[^1].EndLr;
        double startStep = 0;
        for (int i = 0; i < phases.Length; i++)
        {
            var (endStep, startLr, endLr) = phases[i];
            if (step <= endStep || i == phases.Length - 1)
            {
                double span = endStep - startStep;
                // torch divides by zero here (e.g. pctStart * totalSteps == 1); treat a zero-length phase as finished.
                double pct = span > 0 ? (step - startStep) / span : 1.0;
                return AnnealCos(startLr, endLr, pct);
            }
            startStep = endStep;
        }
        throw new InvalidOperationException("unreachable: the last phase always matches");
    }

    static double AnnealCos(double start, double end, double pct) => end + (start - end) / 2.0 * (Math.Cos(Math.PI * pct) + 1);
}
