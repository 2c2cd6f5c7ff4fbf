using System.Collections.Concurrent;
using System.Globalization;
using Tessera.Data;
using Tessera.Data.Transforms;
using Tessera.Tests.Shared;
using TorchSharp;
using static TorchSharp.torch;

namespace Tessera.Tests.Data;

public class DataLoaderTests
{
    /// <summary>A batch that only records which examples it holds and whether it was disposed.</summary>
    private sealed class TrackedBatch(int[] indices, int thread) : IDisposable
    {
        public int[] Indices { get; } = indices;
        public int Thread { get; } = thread;
        public bool Disposed { get; private set; }
        public void Dispose() => Disposed = true;
    }

    private sealed class TrackingDataset(int count, int failAtBatch = -1, int delayMs = 0) : IDataset<TrackedBatch>
    {
        public ConcurrentQueue<TrackedBatch> Created { get; } = new();
        public int Count => count;

        public TrackedBatch GetBatch(ReadOnlySpan<int> indices)
        {
            if (delayMs > 0) Thread.Sleep(delayMs);
            if (Created.Count == failAtBatch) throw new InvalidOperationException("broken example");
            var b = new TrackedBatch(indices.ToArray(), Environment.CurrentManagedThreadId);
            Created.Enqueue(b);
            return b;
        }
    }

    /// <summary>Polls for a state another thread reaches; a loaded machine only makes it slower, never fails it.</summary>
    private static void WaitUntil(Func<bool> condition)
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "the producer never got there in 30 s");
            Thread.Sleep(5);
        }
    }

    private static List<int[]> Indices(DataLoader<TrackedBatch> loader, int epoch, int start = 0) =>
        loader.Epoch(epoch, start).Select(b => b.Indices).ToList();

    [Theory]
    [InlineData(10, 3, false, new[] { 3, 3, 3, 1 })]
    [InlineData(10, 3, true, new[] { 3, 3, 3 })]
    [InlineData(9, 3, false, new[] { 3, 3, 3 })]
    [InlineData(9, 3, true, new[] { 3, 3, 3 })]
    [InlineData(2, 3, true, new int[0])]
    [InlineData(2, 3, false, new[] { 2 })]
    public void Batch_count_and_sizes_follow_drop_last(int n, int batchSize, bool dropLast, int[] sizes)
    {
        foreach (int prefetch in new[] { 0, 2 })
        {
            var loader = new DataLoader<TrackedBatch>(new TrackingDataset(n),
                new DataLoaderOptions { BatchSize = batchSize, DropLast = dropLast, Prefetch = prefetch });
            Assert.Equal(sizes.Length, loader.BatchesPerEpoch);
            Assert.Equal(n, loader.ExampleCount);
            Assert.Equal(sizes, Indices(loader, 0).Select(b => b.Length).ToArray());
        }
    }

    [Fact]
    public void Without_shuffle_order_is_the_dataset_order()
    {
        var loader = new DataLoader<TrackedBatch>(new TrackingDataset(7), new DataLoaderOptions { BatchSize = 3 });
        Assert.Equal(Enumerable.Range(0, 7), Indices(loader, 4).SelectMany(b => b));
    }

    [Fact]
    public void Shuffled_epoch_visits_every_index_exactly_once_in_a_new_order_each_epoch()
    {
        var options = new DataLoaderOptions { BatchSize = 16, Shuffle = true, Seed = 3 };
        var loader = new DataLoader<TrackedBatch>(new TrackingDataset(100), options);
        var e0 = Indices(loader, 0).SelectMany(b => b).ToArray();
        var e1 = Indices(loader, 1).SelectMany(b => b).ToArray();
        Assert.Equal(Enumerable.Range(0, 100), e0.Order());
        Assert.Equal(Enumerable.Range(0, 100), e1.Order());
        Assert.NotEqual(e0, e1);
        Assert.NotEqual(Enumerable.Range(0, 100), e0);

        var again = new DataLoader<TrackedBatch>(new TrackingDataset(100), options);
        Assert.Equal(e0, Indices(again, 0).SelectMany(b => b));
        var otherSeed = new DataLoader<TrackedBatch>(new TrackingDataset(100), options with { Seed = 4 });
        Assert.NotEqual(e0, Indices(otherSeed, 0).SelectMany(b => b));
    }

    [Fact]
    public void Shuffled_order_matches_python_recomputation_of_the_documented_generator()
    {
        Requires.Python();
        string output = ReferencePython.Run(SeededRandomTests.PythonGenerator + "\n" + """
print(' '.join(str(i) for i in shuffle(derive(11, 0, 5), list(range(50)))))
""");
        var expected = output.Trim().Split(' ').Select(s => int.Parse(s, CultureInfo.InvariantCulture));
        var loader = new DataLoader<TrackedBatch>(new TrackingDataset(50), new DataLoaderOptions { Shuffle = true, Seed = 11 });
        Assert.Equal(expected, loader.Order(5));
    }

    [Fact]
    public void Resuming_at_a_batch_gives_the_tail_of_the_full_epoch()
    {
        foreach (int prefetch in new[] { 0, 3 })
        {
            var loader = new DataLoader<TrackedBatch>(new TrackingDataset(50),
                new DataLoaderOptions { BatchSize = 8, Shuffle = true, Seed = 9, Prefetch = prefetch });
            var full = Indices(loader, 2);
            Assert.Equal(full.Skip(4), Indices(loader, 2, start: 4));
            Assert.Empty(Indices(loader, 2, start: loader.BatchesPerEpoch));
            Assert.Throws<ArgumentOutOfRangeException>(() => loader.Epoch(2, loader.BatchesPerEpoch + 1));
        }
    }

    private static TensorDataset AugmentedImages()
    {
        using var scope = NewDisposeScope();
        var gen = new Generator(17);
        var x = rand(new long[] { 40, 2, 8, 8 }, generator: gen);
        var y = arange(40, dtype: ScalarType.Int64);
        return new TensorDataset(x.MoveToOuterDisposeScope(), y.MoveToOuterDisposeScope(),
            new Compose(new RandomCrop(8, 2), new RandomHorizontalFlip(), new Normalize([0.5f, 0.4f], [0.2f, 0.3f])));
    }

    private static List<(float[] X, long[] Y)> Materialize(IEnumerable<Batch> batches) =>
        batches.Select(b => { using (b) return (b.Inputs.data<float>().ToArray(), b.Targets.data<long>().ToArray()); }).ToList();

    private static void AssertSame(List<(float[] X, long[] Y)> expected, List<(float[] X, long[] Y)> actual)
    {
        Assert.Equal(expected.Count, actual.Count);
        for (int i = 0; i < expected.Count; i++)
        {
            Assert.Equal(expected[i].Y, actual[i].Y);
            Assert.Equal(expected[i].X, actual[i].X);
        }
    }

    [Fact]
    public void Prefetching_gives_the_same_augmented_tensors_as_synchronous_loading_and_resume()
    {
        using var data = AugmentedImages();
        var options = new DataLoaderOptions { BatchSize = 6, Shuffle = true, Seed = 21, Prefetch = 0 };
        var sync = Materialize(new DataLoader<Batch>(data, options).Epoch(1));
        var prefetched = Materialize(new DataLoader<Batch>(data, options with { Prefetch = 3 }).Epoch(1));
        AssertSame(sync, prefetched);
        var resumed = Materialize(new DataLoader<Batch>(data, options with { Prefetch = 2 }).Epoch(1, startBatch: 3));
        AssertSame(sync.Skip(3).ToList(), resumed);

        var otherEpoch = Materialize(new DataLoader<Batch>(data, options).Epoch(2));
        Assert.NotEqual(sync[0].X, otherEpoch[0].X);
    }

    [Fact]
    public void Prefetch_builds_batches_on_another_thread_ahead_of_the_consumer()
    {
        var data = new TrackingDataset(40);
        var loader = new DataLoader<TrackedBatch>(data, new DataLoaderOptions { BatchSize = 4, Prefetch = 2 });
        using var e = loader.Epoch(0).GetEnumerator();
        Assert.True(e.MoveNext());
        Assert.NotEqual(Environment.CurrentManagedThreadId, e.Current.Thread);
        WaitUntil(() => data.Created.Count >= 3);
        Thread.Sleep(50); // room to over-build, were the queue unbounded
        // One delivered, Prefetch queued, and at most one more built and waiting for room.
        Assert.InRange(data.Created.Count, 3, 4);

        var sync = new TrackingDataset(40);
        var syncLoader = new DataLoader<TrackedBatch>(sync, new DataLoaderOptions { BatchSize = 4, Prefetch = 0 });
        Assert.Equal(Environment.CurrentManagedThreadId, syncLoader.Epoch(0).First().Thread);
        Assert.Single(sync.Created);
    }

    [Fact]
    public void Breaking_out_early_disposes_every_prefetched_batch_not_delivered()
    {
        var data = new TrackingDataset(200, delayMs: 1);
        var loader = new DataLoader<TrackedBatch>(data, new DataLoaderOptions { BatchSize = 2, Prefetch = 4 });
        var delivered = new List<TrackedBatch>();
        foreach (var batch in loader.Epoch(0))
        {
            delivered.Add(batch);
            if (delivered.Count == 3)
            {
                WaitUntil(() => data.Created.Count > 4); // the producer runs ahead of the consumer
                break;
            }
        }
        var created = data.Created.ToArray();
        Assert.True(created.Length < 100, "producer did not stop");
        Assert.All(delivered, b => Assert.False(b.Disposed));
        Assert.All(created.Except(delivered), b => Assert.True(b.Disposed));
        Thread.Sleep(20);
        Assert.Equal(created.Length, data.Created.Count); // nothing built after the loop ended
    }

    [Fact]
    public void Undelivered_tensor_batches_are_freed_on_early_exit()
    {
        using var data = AugmentedImages();
        var created = new ConcurrentQueue<Batch>();
        var counting = new CountingDataset(data, created);
        var loader = new DataLoader<Batch>(counting, new DataLoaderOptions { BatchSize = 4, Prefetch = 3 });
        Batch? first = null;
        foreach (var b in loader.Epoch(0))
        {
            first = b;
            WaitUntil(() => created.Count >= 3);
            break;
        }
        Assert.NotNull(first);
        Assert.True(created.Count >= 2);
        Assert.False(first!.Inputs.IsInvalid);
        Assert.All(created.Where(b => b != first), b => Assert.True(b.Inputs.IsInvalid && b.Targets.IsInvalid));
        first.Dispose();
    }

    [Fact]
    public void An_epoch_with_prefetch_leaves_libtorchs_thread_count_as_configured()
    {
        int previous = get_num_threads();
        try
        {
            set_num_threads(2); // the application's choice; not 1, which a prefetch thread might want for itself
            using var data = AugmentedImages();
            var loader = new DataLoader<Batch>(data, new DataLoaderOptions { BatchSize = 8, Prefetch = 2 });
            int batches = 0;
            foreach (var b in loader.Epoch(0)) { b.Dispose(); batches++; }
            Assert.Equal(5, batches);

            Assert.Equal(2, get_num_threads());
            // libtorch's set_num_threads also sets the count threads started later begin with; one on the producer
            // thread would show here.
            int seen = 0;
            var later = new Thread(() => seen = get_num_threads());
            later.Start();
            later.Join();
            Assert.Equal(2, seen);
        }
        finally
        {
            set_num_threads(previous);
        }
    }

    private sealed class CountingDataset(TensorDataset inner, ConcurrentQueue<Batch> created) : ISeededDataset<Batch>
    {
        public int Count => inner.Count;
        public Batch GetBatch(ReadOnlySpan<int> indices) => Track(inner.GetBatch(indices));
        public Batch GetBatch(ReadOnlySpan<int> indices, SeededRandom rng) => Track(inner.GetBatch(indices, rng));
        private Batch Track(Batch b) { created.Enqueue(b); return b; }
    }

    [Theory]
    [InlineData(0)]
    [InlineData(2)]
    public void Exception_while_building_reaches_the_consumer_after_earlier_batches(int prefetch)
    {
        var data = new TrackingDataset(20, failAtBatch: 2);
        var loader = new DataLoader<TrackedBatch>(data, new DataLoaderOptions { BatchSize = 4, Prefetch = prefetch });
        var received = new List<TrackedBatch>();
        var e = Assert.Throws<InvalidOperationException>(() => { foreach (var b in loader.Epoch(0)) received.Add(b); });
        Assert.Equal("broken example", e.Message);
        Assert.Equal(2, received.Count);
        Assert.Contains("TrackingDataset.GetBatch", e.StackTrace);
    }

    [Fact]
    public void Batches_consumed_inside_a_per_step_dispose_scope_are_all_freed()
    {
        using var data = AugmentedImages();
        var loader = new DataLoader<Batch>(data, new DataLoaderOptions { BatchSize = 8, Shuffle = true, Prefetch = 2 });
        var seen = new List<Batch>();
        for (int epoch = 0; epoch < 3; epoch++)
            foreach (var batch in loader.Epoch(epoch))
            {
                using var scope = NewDisposeScope();
                using (batch)
                {
                    seen.Add(batch);
                    Assert.Equal(8, (batch.Inputs.sum() * 0 + batch.Targets.shape[0]).item<float>());
                }
            }
        Assert.Equal(15, seen.Count);
        Assert.All(seen, b => Assert.True(b.Inputs.IsInvalid && b.Targets.IsInvalid));
        Assert.False(data.Inputs.IsInvalid);
    }
}
