using Tessera.Data;
using Tessera.Tests.Shared;
using Tessera.Training;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Tessera.Tests.Training;

public class LrFinderTests
{
    /// <summary>Linear regression with MSE; SGD or Adam.</summary>
    sealed class TinyRegression : TrainingModule
    {
        readonly Linear lin;
        readonly bool adam;

        public TinyRegression(bool adam) : base(nameof(TinyRegression))
        {
            lin = nn.Linear(8, 1);
            this.adam = adam;
            RegisterComponents();
        }

        public override Tensor TrainingStep(Batch batch, int batchIndex) =>
            nn.functional.mse_loss(lin.forward(batch.Inputs), batch.Targets);

        public override OptimizerConfig ConfigureOptimizers() =>
            new(adam ? optim.Adam(parameters(), 1e-3) : optim.SGD(parameters(), 1e-3));
    }

    /// <summary>Fixed batches of a noisy linear target; a fresh Batch each time, as a real loader gives.</summary>
    sealed class FixedLoader : IDataLoader<Batch>
    {
        readonly float[][] xs, ys;

        public FixedLoader(int batches, int batchSize, int seed)
        {
            var rng = new Random(seed);
            var w = Enumerable.Range(0, 8).Select(_ => rng.NextDouble() * 2 - 1).ToArray();
            xs = new float[batches][];
            ys = new float[batches][];
            for (int b = 0; b < batches; b++)
            {
                xs[b] = Enumerable.Range(0, batchSize * 8).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray();
                ys[b] = Enumerable.Range(0, batchSize)
                    .Select(i => (float)(Enumerable.Range(0, 8).Sum(j => xs[b][i * 8 + j] * w[j]) + 3 + 0.05 * rng.NextDouble())).ToArray();
            }
        }

        public int BatchesPerEpoch => xs.Length;
        public int ExampleCount => xs.Sum(x => x.Length / 8);
        public int EpochsStarted { get; private set; }

        public IEnumerable<Batch> Epoch(int epoch, int startBatch = 0)
        {
            EpochsStarted++;
            for (int b = startBatch; b < xs.Length; b++)
                yield return new Batch(tensor(xs[b], new long[] { ys[b].Length, 8 }), tensor(ys[b], new long[] { ys[b].Length, 1 }));
        }
    }

    static float[][] Weights(nn.Module m) => m.parameters().Select(p => p.detach().cpu().data<float>().ToArray()).ToArray();

    [Fact]
    public void Sweep_is_exponential_from_start_to_end_and_weights_are_restored()
    {
        using var module = new TinyRegression(adam: true);
        module.eval();
        var before = Weights(module);
        var loader = new FixedLoader(batches: 7, batchSize: 16, seed: 1);
        var options = new LrFinderOptions { NumIterations = 50, StartLr = 1e-6, EndLr = 1, StopDivergenceFactor = double.PositiveInfinity };

        var result = LrFinder.Run(module, loader, options);

        Assert.Equal(50, result.LearningRates.Count);
        Assert.Equal(50, result.Losses.Count);
        Assert.False(result.Diverged);
        Assert.True(loader.EpochsStarted >= 8); // 50 iterations over 7-batch epochs
        Assert.Equal(1e-6, result.LearningRates[0], 1e-18);
        Assert.True(Math.Abs(result.LearningRates[^1] - 1) < 1e-12);
        double ratio = Math.Pow(1e6, 1.0 / 49);
        for (int i = 1; i < 50; i++)
        {
            Assert.True(result.LearningRates[i] > result.LearningRates[i - 1]);
            Assert.True(Math.Abs(result.LearningRates[i] / result.LearningRates[i - 1] - ratio) < 1e-9);
        }
        Assert.Equal(before, Weights(module));
        Assert.False(module.training);
        // The module still trains normally afterwards.
        using var batch = loader.Epoch(0).First();
        Assert.True(double.IsFinite(module.TrainingStep(batch, 0).item<float>()));
    }

    [Fact]
    public void Run_leaves_no_live_tensors_behind()
    {
        using var module = new TinyRegression(adam: true);
        var loader = new FixedLoader(5, 16, 4);
        LrFinder.Run(module, loader, new LrFinderOptions { NumIterations = 5 }); // gradients now exist
        long before = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        LrFinder.Run(module, loader, new LrFinderOptions { NumIterations = 60, StopDivergenceFactor = double.PositiveInfinity });
        Assert.Equal(before, DisposeScopeManager.Statistics.ThreadTotalLiveCount);
    }

    [Fact]
    public void Smoothed_losses_are_bias_corrected_exponential_averages_of_raw_losses()
    {
        using var module = new TinyRegression(adam: false);
        var result = LrFinder.Run(module, new FixedLoader(5, 16, 2),
            new LrFinderOptions { NumIterations = 30, EndLr = 1e-2, Beta = 0.9, StopDivergenceFactor = double.PositiveInfinity });
        double avg = 0;
        for (int i = 0; i < result.RawLosses.Count; i++)
        {
            avg = 0.9 * avg + 0.1 * result.RawLosses[i];
            Assert.Equal(avg / (1 - Math.Pow(0.9, i + 1)), result.Losses[i], 1e-12 * Math.Abs(avg) + 1e-12);
        }
        Assert.Equal(result.RawLosses[0], result.Losses[0], 1e-12 * Math.Abs(result.RawLosses[0])); // bias correction makes the first point the raw loss
    }

    [Fact]
    public void Default_sweep_stops_at_divergence_suggests_a_sane_lr_and_writes_png_and_csv()
    {
        using var module = new TinyRegression(adam: false);
        var before = Weights(module);
        var result = LrFinder.Run(module, new FixedLoader(10, 32, 3));

        Assert.True(result.Diverged, "plain SGD on this regression blows up well before lr = 10");
        Assert.InRange(result.LearningRates.Count, 20, 99);
        var last = result.Losses[^1];
        Assert.True(!double.IsFinite(last) || last > 4 * result.Losses.Where(double.IsFinite).Min());
        Assert.Equal(before, Weights(module));

        // Like fastai, the suggestions look at iterations NumIterations/10 .. count-5 (the last points are the blow-up).
        int minIdx = Enumerable.Range(10, result.Losses.Count - 15).MinBy(i => result.Losses[i]);
        Assert.InRange(result.SuggestedLr, 1e-7, result.LearningRates[minIdx]);
        Assert.InRange(result.SteepestLr, 1e-7, result.LearningRates[minIdx]);
        Assert.Equal(result.LearningRates[minIdx] / 10, result.MinimumLr, 1e-15);

        using var temp = new TempDirectory("tessera-lrfinder-");
        string dir = Path.Combine(temp.Path, "plots"); // SavePlot and ToCsv create missing folders
        string png = Path.Combine(dir, "lr.png");
        result.SavePlot(png);
        var bytes = File.ReadAllBytes(png);
        Assert.True(bytes.Length > 1000);
        Assert.Equal(new byte[] { 0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A }, bytes[..8]);

        string csv = Path.Combine(dir, "lr.csv");
        result.ToCsv(csv);
        var lines = File.ReadAllLines(csv);
        Assert.Equal("iteration,lr,loss,smoothed_loss", lines[0]);
        Assert.Equal(result.LearningRates.Count + 1, lines.Length);
    }

    [Fact]
    public void Valley_follows_fastai_on_hand_made_curves()
    {
        // Longest decreasing run 5,4,3,2,1,0.5,0.4 ends at 8 with length 7: start 1, 1 + ⌊7/3⌋ + ⌊7/6⌋ = 4.
        Assert.Equal(4, LrSuggestions.ValleyIndex(new[] { 5, 5, 5, 4, 3, 2, 1, 0.5, 0.4, 2, 10 }));
        // Not contiguous: 3 > 2 > 0.5 > 0.2 (indices 0, 3, 4, 6), end 6, start 2, 2 + 1 + 0.
        Assert.Equal(3, LrSuggestions.ValleyIndex(new[] { 3, 1, 4, 2, 0.5, 6, 0.2, 7 }));
        Assert.Equal(0, LrSuggestions.ValleyIndex(new double[] { 4, 3, 2, 1 }));
        Assert.Equal(0, LrSuggestions.ValleyIndex(new double[] { 2, 1 })); // fastai would index -1 here
        Assert.Equal(0, LrSuggestions.ValleyIndex(new double[] { 1, 1, 1 }));
        Assert.Throws<ArgumentException>(() => LrSuggestions.ValleyIndex(Array.Empty<double>()));
    }

    [Fact]
    public void Steepest_and_minimum_on_hand_made_curves()
    {
        var lrs = new[] { 1e-4, 1e-3, 1e-2, 1e-1, 1 };
        var losses = new[] { 3, 2.9, 2.0, 1.9, 1.85 };
        Assert.Equal(1, LrSuggestions.SteepestIndex(lrs, losses));
        Assert.Equal(4, LrSuggestions.MinimumIndex(losses));
        // Uneven LR spacing: a smaller drop over a much smaller log-step is steeper.
        Assert.Equal(2, LrSuggestions.SteepestIndex(new[] { 1e-4, 1e-2, 1e-1, 1.1e-1 }, new[] { 3.0, 2.0, 1.5, 1.4 }));
        Assert.Throws<ArgumentException>(() => LrSuggestions.SteepestIndex(lrs, losses[..3]));

        var result = new LrFinderResult(lrs, losses, losses, diverged: false);
        Assert.Equal(1e-3, result.SteepestLr);
        Assert.Equal(0.1, result.MinimumLr);
    }

    [Fact]
    public void Result_ignores_points_after_the_first_nan()
    {
        var lrs = Enumerable.Range(0, 6).Select(i => Math.Pow(10, i - 5)).ToArray();
        var losses = new[] { 3, 2, 1, 0.5, double.NaN, 0.1 };
        var result = new LrFinderResult(lrs, losses, losses, diverged: true);
        Assert.Equal(lrs[3] / 10, result.MinimumLr);
        Assert.InRange(result.SuggestedIndex, 0, 3);
    }

    [Fact]
    public void Invalid_options_are_rejected()
    {
        using var module = new TinyRegression(adam: false);
        var loader = new FixedLoader(2, 4, 0);
        Assert.Throws<ArgumentOutOfRangeException>(() => LrFinder.Run(module, loader, new LrFinderOptions { StartLr = 0 }));
        Assert.Throws<ArgumentOutOfRangeException>(() => LrFinder.Run(module, loader, new LrFinderOptions { EndLr = 1e-8 }));
        Assert.Throws<ArgumentOutOfRangeException>(() => LrFinder.Run(module, loader, new LrFinderOptions { NumIterations = 1 }));
        Assert.Throws<ArgumentOutOfRangeException>(() => LrFinder.Run(module, loader, new LrFinderOptions { Beta = 1 }));
        Assert.Throws<InvalidOperationException>(() => LrFinder.Run(module, new FixedLoader(0, 4, 0)));
    }
}
