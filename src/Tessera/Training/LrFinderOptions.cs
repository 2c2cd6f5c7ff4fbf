using static TorchSharp.torch;

namespace Tessera.Training;

/// <summary>Settings of <see cref="LrFinder.Run{TBatch}"/>; the defaults are fastai's.</summary>
public sealed record LrFinderOptions
{
    /// <summary>Learning rate of the first iteration.</summary>
    public double StartLr { get; init; } = 1e-7;

    /// <summary>Learning rate of the last iteration.</summary>
    public double EndLr { get; init; } = 10;

    /// <summary>Number of optimizer steps (the LR grows exponentially from <see cref="StartLr"/> to <see cref="EndLr"/> over them).</summary>
    public int NumIterations { get; init; } = 100;

    /// <summary>Exponential smoothing of the loss: <c>avg = beta * avg + (1 - beta) * loss</c>, bias-corrected.</summary>
    public double Beta { get; init; } = 0.98;

    /// <summary>Stop once the smoothed loss exceeds this multiple of the best smoothed loss; infinity never stops early.</summary>
    public double StopDivergenceFactor { get; init; } = 4;

    /// <summary>Device to run on; the module is moved there. Null: where the module's parameters already are.</summary>
    public Device? Device { get; init; }
}
