using System.Text.Json;
using Tessera.Data;
using Tessera.Distributed;
using Tessera.Training;
using TorchSharp;
using TorchSharp.Modules;
using TensorDataset = Tessera.Data.TensorDataset;
using static TorchSharp.torch;

namespace Tessera.Tests.Distributed;

public class DataParallelTests
{
    [Theory]
    [InlineData(10, 3, false)]
    [InlineData(10, 3, true)]
    [InlineData(12, 4, false)]
    [InlineData(2, 5, false)] // padding longer than the data: repeated
    [InlineData(7, 2, true)]
    public void Shards_follow_pytorch_distributed_sampler(int n, int world, bool dropLast)
    {
        Requires.Python("torch");
        string script = """
            import sys, json, torch
            from torch.utils.data import DistributedSampler
            n, world, drop = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3] == "1"
            print(json.dumps([list(DistributedSampler(range(n), num_replicas=world, rank=r, shuffle=False, drop_last=drop)) for r in range(world)]))
            """;
        var expected = JsonSerializer.Deserialize<int[][]>(ReferencePython.Run(script, $"{n}", $"{world}", dropLast ? "1" : "0"))!;
        int[] identity = Enumerable.Range(0, n).ToArray();
        for (int rank = 0; rank < world; rank++)
            Assert.Equal(expected[rank], ShardedDataLoader<Batch>.ShardIndices(identity, rank, world, dropLast));
    }

    [Fact]
    public void Shards_of_a_shuffled_epoch_are_disjoint_and_cover_it_and_change_with_the_epoch()
    {
        using var data = new TensorDataset(arange(0, 40, ScalarType.Float32).reshape(40, 1), zeros(40, ScalarType.Int64));
        var loader = new DataLoader<Batch>(data, new DataLoaderOptions { BatchSize = 4, Shuffle = true, Seed = 3, Prefetch = 0 });
        var shards = Enumerable.Range(0, 4).Select(r => new ShardedDataLoader<Batch>(loader, r, 4)).ToArray();
        var epoch0 = shards.SelectMany(s => s.Indices(0)).ToArray();
        Assert.Equal(Enumerable.Range(0, 40), epoch0.Order());
        Assert.NotEqual(shards[0].Indices(0), shards[0].Indices(1));
        // The batches a shard yields hold exactly its indices (the dataset's value is its index).
        var seen = shards[1].Epoch(0).SelectMany(b => { using (b) return b.Inputs.data<float>().ToArray(); }).Select(v => (int)v);
        Assert.Equal(shards[1].Indices(0), seen);
        Assert.Equal(3, shards[1].BatchesPerEpoch);
    }

    [Fact]
    public void Thread_group_collectives_give_every_member_the_same_result()
    {
        var groups = ThreadProcessGroup.Create(3);
        var results = RunMembers(groups, g =>
        {
            var sum = new float[] { g.Rank + 1, 0.1f * g.Rank };
            g.AllReduceSum(sum);
            Span<double> max = [g.Rank * 2.0];
            g.AllReduceMax(max);
            var bytes = g.Rank == 2 ? new byte[] { 7, 8 } : new byte[2];
            g.Broadcast(bytes, root: 2);
            var gathered = new double[3];
            g.AllGather([g.Rank + 0.5], gathered);
            return (sum, max[0], bytes, gathered);
        });
        foreach (var (sum, max, bytes, gathered) in results)
        {
            Assert.Equal([6f, 0.1f + 0.2f], sum);
            Assert.Equal(4.0, max);
            Assert.Equal([7, 8], bytes);
            Assert.Equal([0.5, 1.5, 2.5], gathered);
        }
    }

    [Fact]
    public async Task A_failing_member_ends_the_others_instead_of_leaving_them_waiting()
    {
        var groups = ThreadProcessGroup.Create(2);
        var other = Task.Run(() => Assert.Throws<DistributedException>(() => groups[1].Barrier()));
        var own = Assert.Throws<DistributedException>(() => groups[0].Abort("disk full"));
        Assert.Contains("rank 0: disk full", own.Message);
        var ended = await other.WaitAsync(TimeSpan.FromSeconds(30), TestContext.Current.CancellationToken);
        Assert.Contains("disk full", ended.Message);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void The_end_of_training_check_finds_replicas_that_differ_in_one_bit(bool perturb)
    {
        var groups = ThreadProcessGroup.Create(2);
        var outcomes = RunMembers(groups, g =>
        {
            using var layer = nn.Linear(4, 3);
            using (no_grad())
            {
                layer.weight.fill_(0.25f);
                layer.bias!.fill_(-1f);
                // One ulp in one weight of rank 1.
                if (perturb && g.Rank == 1) layer.weight.narrow(0, 2, 1).narrow(1, 1, 1).fill_(MathF.BitIncrement(0.25f));
            }
            var strategy = new DataParallelStrategy(g);
            string own = DataParallelStrategy.StateChecksum(layer);
            try
            {
                strategy.CheckReplicas(layer);
                return (Own: own, Agreed: strategy.ReplicaChecksum, Error: (Exception?)null);
            }
            catch (DistributedException e) { return (Own: own, Agreed: (string?)null, Error: (Exception?)e); }
        });
        if (perturb)
        {
            Assert.NotEqual(outcomes[0].Own, outcomes[1].Own);
            foreach (var (_, agreed, error) in outcomes)
            {
                Assert.Null(agreed);
                Assert.Contains("rank 1's weights differ from rank 0's", Assert.IsType<DistributedException>(error).Message);
            }
        }
        else
        {
            Assert.Matches("^[0-9a-f]{64}$", outcomes[0].Own);
            Assert.All(outcomes, o => Assert.Equal(outcomes[0].Own, o.Agreed));
        }
    }

    [Fact]
    public void Two_replicas_with_batch_B_take_the_same_steps_as_one_process_with_batch_2B()
    {
        const int steps = 50;
        float[] single = Train(SingleProcessStrategy.Instance, batchSize: 16, steps);

        var groups = ThreadProcessGroup.Create(2);
        var replicas = RunMembers(groups, g => Train(new DataParallelStrategy(g, bucketBytes: 64), batchSize: 8, steps));

        Assert.Equal(replicas[0], replicas[1]); // bit-identical replicas
        Assert.Equal(single.Length, replicas[0].Length);
        for (int i = 0; i < single.Length; i++) Assert.True(Math.Abs(single[i] - replicas[0][i]) <= 1e-5, $"weight {i}: {single[i]} vs {replicas[0][i]}");
        Assert.NotEqual(Initial(), single); // it did train
    }

    [Fact]
    public void An_exception_on_one_rank_ends_every_rank_with_a_message_naming_it()
    {
        var groups = ThreadProcessGroup.Create(2);
        var errors = RunMembers(groups, g =>
        {
            try
            {
                Train(new DataParallelStrategy(g), batchSize: 8, steps: 20, failAtStepOnRank: g.Rank == 1 ? 5 : null);
                return null;
            }
            catch (Exception e) { return e; }
        });
        Assert.IsType<InvalidOperationException>(errors[1]);
        var other = Assert.IsType<DistributedException>(errors[0]);
        Assert.Contains("rank 1", other.Message);
        Assert.Contains("step 5 failed on purpose", other.Message);
    }

    static T[] RunMembers<T>(IReadOnlyList<ThreadProcessGroup> groups, Func<IProcessGroup, T> body)
    {
        var tasks = groups.Select(g => Task.Factory.StartNew(() => body(g), TaskCreationOptions.LongRunning)).ToArray();
        Assert.True(Task.WaitAll(tasks, TimeSpan.FromSeconds(120)), "a member did not finish");
        return tasks.Select(t => t.Result).ToArray();
    }

    static float[] Initial()
    {
        using var model = new Net(null);
        return model.Flat();
    }

    static float[] Train(TrainingStrategy strategy, int batchSize, int steps, int? failAtStepOnRank = null)
    {
        using var scope = NewDisposeScope();
        var generator = new Generator(11);
        using var data = new TensorDataset(randn([96, 6], generator: generator), randint(0, 3, [96], generator: generator));
        var loader = new DataLoader<Batch>(data, new DataLoaderOptions { BatchSize = batchSize, Shuffle = true, Seed = 5, Prefetch = 0 });
        using var model = new Net(failAtStepOnRank);
        new Trainer(new TrainerOptions { MaxEpochs = null, MaxSteps = steps, Strategy = strategy, GradientClipNorm = 1.0 }).Fit(model, loader);
        return model.Flat();
    }

    /// <summary>No dropout or batch norm: the replicas' forward passes depend only on their examples.</summary>
    sealed class Net : TrainingModule
    {
        readonly Linear fc1, fc2;
        readonly int? failAtStep;

        public Net(int? failAtStep) : base(nameof(Net))
        {
            this.failAtStep = failAtStep;
            var generator = new Generator(3);
            fc1 = nn.Linear(6, 32);
            fc2 = nn.Linear(32, 3);
            RegisterComponents();
            using (no_grad())
                foreach (var p in parameters()) p.copy_(randn(p.shape, generator: generator) * 0.3);
        }

        public override Tensor TrainingStep(Batch batch, int batchIndex)
        {
            if (Trainer!.GlobalStep == failAtStep) throw new InvalidOperationException("step 5 failed on purpose");
            return nn.functional.cross_entropy(fc2.call(nn.functional.tanh(fc1.call(batch.Inputs))), batch.Targets);
        }

        public override OptimizerConfig ConfigureOptimizers() => new(optim.Adam(parameters(), 0.01));

        public float[] Flat() => parameters().SelectMany(p => p.data<float>().ToArray()).ToArray();
    }
}
