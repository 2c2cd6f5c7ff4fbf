namespace Tessera.Data;

/// <summary>
/// A dataset whose batches may be randomized (data augmentation). A loader passes a generator derived from
/// (seed, epoch, batch index), so the same batch is built identically on every run and after a resume.
/// </summary>
public interface ISeededDataset<out TBatch> : IDataset<TBatch>
{
    /// <summary>Builds the batch holding the examples at <paramref name="indices"/>, drawing any randomness from <paramref name="rng"/>. The caller owns it.</summary>
    TBatch GetBatch(ReadOnlySpan<int> indices, SeededRandom rng);
}
