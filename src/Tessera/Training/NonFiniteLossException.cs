namespace Tessera.Training;

/// <summary>
/// Thrown by <see cref="Trainer"/> when a training step's loss is NaN or infinite (see
/// <see cref="TrainerOptions.StopOnNonFiniteLoss"/>): the weights would become NaN at the next optimizer step, so the
/// run stops before it. The message names the epoch, the batch and the optimizer step.
/// </summary>
public sealed class NonFiniteLossException : TesseraException
{
    /// <summary>Creates the exception for a loss of <paramref name="loss"/> at the given position of the run.</summary>
    public NonFiniteLossException(double loss, int epoch, int batch, long step)
        : base($"training stopped: the loss is {loss.ToString(System.Globalization.CultureInfo.InvariantCulture)} at epoch {epoch}, batch {batch} (step {step}); " +
               "lower the learning rate, check the data, or clip gradients (set TrainerOptions.StopOnNonFiniteLoss to false to train on)")
    {
        Loss = loss;
        Epoch = epoch;
        Batch = batch;
        Step = step;
    }

    /// <summary>The non-finite loss value.</summary>
    public double Loss { get; }

    /// <summary>The epoch (from 0) of the failing batch.</summary>
    public int Epoch { get; }

    /// <summary>The index of the failing batch within its epoch.</summary>
    public int Batch { get; }

    /// <summary>The optimizer step the batch would have contributed to (<see cref="Trainer.GlobalStep"/>).</summary>
    public long Step { get; }
}
