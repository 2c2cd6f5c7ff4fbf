using Tessera.Data;
using Tessera.Training;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Tessera.Tests.Training;

/// <summary>A small classifier with dropout (so RNG state matters) for trainer tests.</summary>
internal sealed class TinyClassifier : TrainingModule
{
    private readonly Linear fc1;
    private readonly Linear fc2;
    private readonly Dropout drop;
    public double LearningRate { get; init; } = 0.05;
    public Func<optim.Optimizer, ILrSchedule?>? MakeSchedule { get; init; }
    public bool UseSgd { get; init; }
    /// <summary>When set, SGD with two parameter groups: fc1 at <see cref="LearningRate"/>, the head fc2 at this many times it.</summary>
    public double? HeadLrScale { get; init; }

    public TinyClassifier(long seed) : base(nameof(TinyClassifier))
    {
        manual_seed(seed);
        fc1 = nn.Linear(4, 16);
        fc2 = nn.Linear(16, 3);
        drop = nn.Dropout(0.2);
        RegisterComponents();
    }

    public Tensor Forward(Tensor x) => fc2.call(drop.call(nn.functional.relu(fc1.call(x))));

    public override Tensor TrainingStep(Batch batch, int batchIndex) =>
        nn.functional.cross_entropy(Forward(batch.Inputs), batch.Targets);

    public override void ValidationStep(Batch batch, int batchIndex)
    {
        var logits = Forward(batch.Inputs);
        Log("val_loss", nn.functional.cross_entropy(logits, batch.Targets), batch.Size);
        Log("val_acc", logits.argmax(1).eq(batch.Targets).to_type(ScalarType.Float32).mean(), batch.Size);
    }

    public override OptimizerConfig ConfigureOptimizers()
    {
        optim.Optimizer opt = HeadLrScale is double scale
            ? optim.SGD([new SGD.ParamGroup(fc1.parameters(), lr: LearningRate), new SGD.ParamGroup(fc2.parameters(), lr: LearningRate * scale)], LearningRate)
            : UseSgd ? optim.SGD(parameters(), LearningRate) : optim.Adam(parameters(), LearningRate);
        return new OptimizerConfig(opt, MakeSchedule?.Invoke(opt));
    }

    public Dictionary<string, float[]> Weights() =>
        state_dict().ToDictionary(kv => kv.Key, kv => kv.Value.data<float>().ToArray());
}

/// <summary>An in-memory loader with per-epoch seeded shuffling, independent of Tessera.Data's loader.</summary>
internal sealed class ListLoader : IDataLoader<Batch>
{
    private readonly float[][] x;
    private readonly long[] y;
    private readonly int batchSize;
    private readonly bool shuffle;

    public ListLoader(int count, int batchSize, bool shuffle, int seed = 7)
    {
        var rng = new Random(seed);
        x = Enumerable.Range(0, count).Select(_ => Enumerable.Range(0, 4).Select(_ => (float)rng.NextDouble() * 2 - 1).ToArray()).ToArray();
        // A learnable rule: class = which of the first three features is largest.
        y = x.Select(v => (long)Array.IndexOf(v[..3], v[..3].Max())).ToArray();
        this.batchSize = batchSize;
        this.shuffle = shuffle;
    }

    public int BatchesPerEpoch => (x.Length + batchSize - 1) / batchSize;
    public int ExampleCount => x.Length;

    public IEnumerable<Batch> Epoch(int epoch, int startBatch = 0)
    {
        var order = Enumerable.Range(0, x.Length).ToArray();
        if (shuffle) new Random(1000 + epoch).Shuffle(order);
        for (int b = startBatch; b < BatchesPerEpoch; b++)
        {
            var idx = order.Skip(b * batchSize).Take(batchSize).ToArray();
            yield return new Batch(tensor(idx.SelectMany(i => x[i]).ToArray(), [idx.Length, 4]), tensor(idx.Select(i => y[i]).ToArray()));
        }
    }
}
