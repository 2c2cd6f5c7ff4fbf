namespace Tessera.Data;

/// <summary>A finite, indexable collection of examples that can build a batch from a set of indices in one go.</summary>
/// <typeparam name="TBatch">What a batch of examples is, e.g. <see cref="Batch"/>.</typeparam>
public interface IDataset<out TBatch>
{
    /// <summary>Number of examples.</summary>
    int Count { get; }

    /// <summary>Builds one batch holding the examples at <paramref name="indices"/>, in that order. The caller owns it.</summary>
    TBatch GetBatch(ReadOnlySpan<int> indices);
}
