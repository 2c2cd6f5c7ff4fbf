using System.Collections.Concurrent;
using System.Runtime.ExceptionServices;

namespace Tessera.Data;

/// <summary>
/// Cuts a dataset into batches, epoch by epoch. The order of epoch <c>e</c> is the identity, or with
/// <see cref="DataLoaderOptions.Shuffle"/> a Fisher-Yates permutation drawn from
/// <c>SeededRandom.Derive(Seed, 0, e)</c>; batch <c>b</c> of epoch <c>e</c> gets the generator
/// <c>SeededRandom.Derive(Seed, 1, e, b)</c> when the dataset is an <see cref="ISeededDataset{TBatch}"/>. Both
/// depend only on (seed, epoch, batch), so a run resumed at any batch sees exactly the batches it would have seen.
/// With <see cref="DataLoaderOptions.Prefetch"/> &gt; 0 a background thread builds up to that many batches ahead; it
/// leaves libtorch's thread settings as the application set them.
/// </summary>
public sealed class DataLoader<TBatch> : IDataLoader<TBatch>
{
    private const long OrderStream = 0;
    private const long BatchStream = 1;

    private readonly IDataset<TBatch> _dataset;

    /// <summary>Creates a loader over <paramref name="dataset"/>.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The batch size is not positive or the prefetch depth is negative.</exception>
    public DataLoader(IDataset<TBatch> dataset, DataLoaderOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(dataset);
        options ??= new DataLoaderOptions();
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(options.BatchSize, nameof(options.BatchSize));
        ArgumentOutOfRangeException.ThrowIfNegative(options.Prefetch, nameof(options.Prefetch));
        _dataset = dataset;
        Options = options;
    }

    /// <summary>The dataset batches are cut from.</summary>
    public IDataset<TBatch> Dataset => _dataset;

    /// <summary>The options this loader was created with.</summary>
    public DataLoaderOptions Options { get; }

    /// <inheritdoc />
    public int ExampleCount => _dataset.Count;

    /// <inheritdoc />
    public int BatchesPerEpoch => Options.DropLast
        ? ExampleCount / Options.BatchSize
        : (int)(((long)ExampleCount + Options.BatchSize - 1) / Options.BatchSize);

    /// <summary>The dataset indices of epoch <paramref name="epoch"/>, in the order they are visited.</summary>
    public int[] Order(int epoch)
    {
        var order = new int[ExampleCount];
        for (int i = 0; i < order.Length; i++) order[i] = i;
        if (Options.Shuffle)
            SeededRandom.Derive(Options.Seed, OrderStream, epoch).Shuffle(order.AsSpan());
        return order;
    }

    /// <summary>The generator batch <paramref name="batch"/> of epoch <paramref name="epoch"/> hands to an <see cref="ISeededDataset{TBatch}"/>.</summary>
    public SeededRandom BatchRandom(int epoch, int batch) => SeededRandom.Derive(Options.Seed, BatchStream, epoch, batch);

    /// <inheritdoc />
    /// <remarks>
    /// Enumeration starts the background producer (when prefetching); disposing the enumerator early (leaving a
    /// <c>foreach</c>) stops it and disposes every batch built but not delivered. An exception thrown while
    /// building a batch is rethrown to the caller after the batches before it.
    /// </remarks>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="startBatch"/> is outside [0, <see cref="BatchesPerEpoch"/>].</exception>
    public IEnumerable<TBatch> Epoch(int epoch, int startBatch = 0)
    {
        if (startBatch < 0 || startBatch > BatchesPerEpoch)
            throw new ArgumentOutOfRangeException(nameof(startBatch), startBatch, $"Must be in [0, {BatchesPerEpoch}].");
        return EpochOf(Order(epoch), epoch, startBatch, BatchesPerEpoch);
    }

    /// <summary>Batches <paramref name="startBatch"/> to <paramref name="end"/> - 1 cut from <paramref name="order"/> (a shard of an epoch's order, for data-parallel training).</summary>
    internal IEnumerable<TBatch> EpochOf(int[] order, int epoch, int startBatch, int end) =>
        Options.Prefetch == 0 ? Synchronous(order, epoch, startBatch, end) : Prefetched(order, epoch, startBatch, end);

    private IEnumerable<TBatch> Synchronous(int[] order, int epoch, int startBatch, int end)
    {
        for (int b = startBatch; b < end; b++)
            yield return Build(order, epoch, b);
    }

    private IEnumerable<TBatch> Prefetched(int[] order, int epoch, int startBatch, int end)
    {
        using var queue = new BlockingCollection<TBatch>(Options.Prefetch);
        using var stop = new CancellationTokenSource();
        Exception? failure = null;

        var producer = Task.Factory.StartNew(() =>
        {
            // No torch.set_num_threads here: in libtorch it also sets the count every later thread starts with (and
            // resizes the shared pool), so a loader would change the application's thread settings behind its back.
            try
            {
                for (int b = startBatch; b < end && !stop.IsCancellationRequested; b++)
                {
                    TBatch batch = Build(order, epoch, b);
                    try
                    {
                        queue.Add(batch, stop.Token);
                    }
                    catch
                    {
                        DisposeBatch(batch);
                        throw;
                    }
                }
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested)
            {
            }
            catch (Exception e)
            {
                failure = e;
            }
            finally
            {
                queue.CompleteAdding();
            }
        }, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);

        try
        {
            foreach (TBatch batch in queue.GetConsumingEnumerable())
                yield return batch;
            producer.Wait();
            if (failure is not null)
                ExceptionDispatchInfo.Throw(failure);
        }
        finally
        {
            stop.Cancel();
            try { producer.Wait(); } catch (AggregateException) { }
            while (queue.TryTake(out TBatch? left))
                DisposeBatch(left);
        }
    }

    private TBatch Build(int[] order, int epoch, int batch)
    {
        int start = batch * Options.BatchSize;
        var indices = order.AsSpan(start, Math.Min(Options.BatchSize, order.Length - start));
        return _dataset is ISeededDataset<TBatch> seeded
            ? seeded.GetBatch(indices, BatchRandom(epoch, batch))
            : _dataset.GetBatch(indices);
    }

    private static void DisposeBatch(TBatch batch)
    {
        if (batch is IDisposable disposable) disposable.Dispose();
    }
}
