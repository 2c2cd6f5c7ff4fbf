namespace Tessera.Data;

/// <summary>
/// A sequence of batches for one epoch. The order may depend on the epoch (seeded shuffling), so that a run
/// resumed at (epoch, batch) sees exactly the batches it would have seen.
/// </summary>
public interface IDataLoader<out TBatch>
{
    /// <summary>Number of batches one epoch yields.</summary>
    int BatchesPerEpoch { get; }

    /// <summary>Number of examples behind the loader.</summary>
    int ExampleCount { get; }

    /// <summary>Enumerates the batches of <paramref name="epoch"/>, starting at batch <paramref name="startBatch"/>. The caller disposes each batch.</summary>
    IEnumerable<TBatch> Epoch(int epoch, int startBatch = 0);
}
