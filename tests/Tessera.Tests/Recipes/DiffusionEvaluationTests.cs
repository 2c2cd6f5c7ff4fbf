using System.Globalization;
using Tessera.Data;
using Tessera.Diffusion.Schedulers;
using Tessera.Recipes;
using Tessera.Tests.Shared;
using static TorchSharp.torch;

namespace Tessera.Tests.Recipes;

/// <summary>
/// The Fréchet floors of <c>tessera eval</c>: the class-balanced subset behind the floor at the generated count, and
/// that floor against numpy on the same features.
/// </summary>
public class DiffusionEvaluationTests : IDisposable
{
    readonly TempDirectory temp = new("tessera-diffusion-eval-");
    public void Dispose() => temp.Dispose();

    [Fact]
    public void Balanced_subset_takes_distinct_indices_evenly_per_class_and_depends_only_on_the_seed()
    {
        var labels = new long[500];
        for (int i = 0; i < labels.Length; i++) labels[i] = (i * 7 + i / 13) % 4;
        long[] a = DiffusionEvaluation.BalancedSubset(labels, 4, 20, seed: 5);
        Assert.Equal(80, a.Length);
        Assert.Equal(80, a.Distinct().Count());
        for (int k = 0; k < 4; k++) Assert.All(a.Skip(k * 20).Take(20), i => Assert.Equal(k, labels[i]));
        Assert.Equal(a, DiffusionEvaluation.BalancedSubset(labels, 4, 20, seed: 5));
        Assert.NotEqual(a, DiffusionEvaluation.BalancedSubset(labels, 4, 20, seed: 6));
        // Not simply the first examples of each class.
        Assert.NotEqual(Enumerable.Range(0, labels.Length).Where(i => labels[i] == 0).Take(20).Select(i => (long)i), a.Take(20));

        var error = Assert.Throws<ArgumentException>(() => DiffusionEvaluation.BalancedSubset(labels, 4, 200, seed: 5));
        Assert.Contains("class 0 has", error.Message);
        Assert.Throws<ArgumentException>(() => DiffusionEvaluation.BalancedSubset([0, 1, 4], 4, 1, seed: 0));
    }

    [Fact]
    public void The_sampling_scheduler_keeps_clip_sample_like_from_config_unless_overridden()
    {
        Assert.False(DiffusionTraining.Scheduler(new DiffusionTrainingOptions()).Config.ClipSample); // the recipe's default
        var training = DiffusionTraining.Scheduler(new DiffusionTrainingOptions { ClipSample = true });
        Assert.True(training.Config.ClipSample);

        Assert.Same(training, DiffusionEvaluation.SamplingScheduler(training, new DiffusionEvaluationOptions { Scheduler = null }));
        var kept = DiffusionEvaluation.SamplingScheduler(training, new DiffusionEvaluationOptions { Scheduler = "ddim" });
        Assert.IsType<DdimScheduler>(kept);
        Assert.True(kept.Config.ClipSample);
        Assert.Equal("squaredcos_cap_v2", kept.Config.BetaSchedule);
        Assert.Equal("leading", kept.Config.TimestepSpacing);

        var unclipped = DiffusionEvaluation.SamplingScheduler(training, new DiffusionEvaluationOptions { Scheduler = "ddim", ClipSample = false });
        Assert.IsType<DdimScheduler>(unclipped);
        Assert.False(unclipped.Config.ClipSample);
        Assert.Equal(kept.Config.BetaSchedule, unclipped.Config.BetaSchedule);
        Assert.Equal(kept.Config.TimestepSpacing, unclipped.Config.TimestepSpacing);
        // The step differs where the predicted x0 leaves [-1, 1]: the clipped run keeps it inside, the unclipped one does not.
        kept.SetTimesteps(50);
        unclipped.SetTimesteps(50);
        float[] sample = [0.9f, -0.2f], output = [-0.3f, 0.1f];
        var a = kept.Step(output, 980, sample);
        var b = unclipped.Step(output, 980, sample);
        Assert.All(a.PredOriginalSample!, v => Assert.InRange(v, -1f, 1f));
        Assert.True(Math.Abs(b.PredOriginalSample![0]) > 1);
        Assert.NotEqual(a.PrevSample[0], b.PrevSample[0]);

        var sameClass = DiffusionEvaluation.SamplingScheduler(training, new DiffusionEvaluationOptions { Scheduler = null, ClipSample = false });
        Assert.IsType<DdpmScheduler>(sameClass);
        Assert.False(sameClass.Config.ClipSample);
    }

    [Fact]
    public void Floor_at_the_generated_count_is_above_the_full_size_floor_and_matches_numpy()
    {
        Requires.FashionMnist();
        Requires.Python("numpy");
        const int full = 10000, perClass = 50, dim = 16;
        using var scope = NewDisposeScope();
        using var train = FashionMnist.Load(train: true);
        using var test = FashionMnist.Load(train: false, limit: full);
        // Features: 7x7 block means of the pixels (16 per image), the same for every route below.
        static Tensor Pooled(Tensor images) => nn.functional.avg_pool2d(images, 7).reshape(images.shape[0], dim);
        Tensor trainFeatures = Pooled(train.Inputs);
        Tensor testFeatures = Pooled(test.Inputs);
        long[] labels = train.Targets.data<long>().ToArray();
        long[] subset = DiffusionEvaluation.BalancedSubset(labels, FashionMnist.Classes.Length, perClass, seed: 0);

        double atCount = DiffusionEvaluation.FrechetDistance(trainFeatures.index_select(0, tensor(subset)), testFeatures);
        double fullSize = DiffusionEvaluation.FrechetDistance(trainFeatures.narrow(0, 0, full), testFeatures);

        string pTrain = temp.File("train.f32"), pTest = temp.File("test.f32"), pLabels = temp.File("labels.i64"), pSubset = temp.File("subset.i64");
        ReferencePython.WriteFloats(pTrain, trainFeatures.contiguous().data<float>().ToArray());
        ReferencePython.WriteFloats(pTest, testFeatures.contiguous().data<float>().ToArray());
        ReferencePython.WriteLongs(pLabels, labels);
        ReferencePython.WriteLongs(pSubset, subset);
        // Independent route: np.cov and the trace of sqrtm(S1 S2) from the eigenvalues of the (non-symmetric) product.
        string script = """
            import sys
            import numpy as np
            d, full, per = int(sys.argv[5]), int(sys.argv[6]), int(sys.argv[7])
            train = np.fromfile(sys.argv[1], dtype='<f4').astype(np.float64).reshape(-1, d)
            test = np.fromfile(sys.argv[2], dtype='<f4').astype(np.float64).reshape(-1, d)
            labels = np.fromfile(sys.argv[3], dtype='<i8')
            subset = np.fromfile(sys.argv[4], dtype='<i8')
            assert len(np.unique(subset)) == len(subset), 'indices repeat'
            assert (np.bincount(labels[subset], minlength=10) == per).all(), 'not class-balanced'
            def frechet(x, y):
                m1, m2 = x.mean(0), y.mean(0)
                s1, s2 = np.cov(x, rowvar=False), np.cov(y, rowvar=False)
                ev = np.linalg.eigvals(s1 @ s2)
                return float(((m1 - m2) ** 2).sum() + np.trace(s1) + np.trace(s2) - 2 * np.sqrt(np.clip(ev.real, 0, None)).sum())
            print(repr(frechet(train[subset], test)), repr(frechet(train[:full], test)))
            """;
        var inv = CultureInfo.InvariantCulture;
        double[] expected = ReferencePython.Run(script, pTrain, pTest, pLabels, pSubset, dim.ToString(inv), full.ToString(inv), perClass.ToString(inv))
            .Split(' ', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(v => double.Parse(v, inv)).ToArray();

        Assert.True(Math.Abs(atCount - expected[0]) <= 1e-6 * expected[0], $"floor at {subset.Length}: {atCount} vs numpy {expected[0]}");
        Assert.True(Math.Abs(fullSize - expected[1]) <= 1e-6 * expected[1], $"floor at {full}: {fullSize} vs numpy {expected[1]}");
        // Fewer images, larger estimate: the 500-image floor is well above the 10000-image one.
        Assert.True(atCount > 2 * fullSize, $"floor at {subset.Length} = {atCount}, at {full} = {fullSize}");
    }
}
