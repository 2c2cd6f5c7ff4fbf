using System.Globalization;
using System.Text.Json;
using Tessera.Tests.Shared;
using Tessera.Training.Metrics;
using TorchSharp;
using static TorchSharp.torch;

namespace Tessera.Tests.Training.Metrics;

public class ClassificationMetricsTests
{
    // Pure-python reference (sklearn's formulas with labels=range(C), zero_division=0; sklearn itself is not installed).
    const string ReferenceScript = """
        import json, sys
        C = int(sys.argv[2])
        pairs = [tuple(int(v) for v in line.split()) for line in open(sys.argv[1]) if line.strip()]
        cm = [[0] * C for _ in range(C)]
        for t, p in pairs:
            cm[t][p] += 1
        tp = [cm[i][i] for i in range(C)]
        pred = [sum(cm[t][i] for t in range(C)) for i in range(C)]
        sup = [sum(cm[i]) for i in range(C)]
        div = lambda a, b: a / b if b else 0.0
        prec = [div(tp[i], pred[i]) for i in range(C)]
        rec = [div(tp[i], sup[i]) for i in range(C)]
        f1 = [div(2 * prec[i] * rec[i], prec[i] + rec[i]) for i in range(C)]
        n = sum(sup)
        out = {
            "cm": cm, "precision": prec, "recall": rec, "f1": f1, "support": sup,
            "accuracy": div(sum(tp), n),
            "macro": [sum(prec) / C, sum(rec) / C, sum(f1) / C],
            "weighted": [div(sum(m[i] * sup[i] for i in range(C)), n) for m in (prec, rec, f1)],
            "micro": [div(sum(tp), sum(pred)), div(sum(tp), n),
                      div(2 * div(sum(tp), sum(pred)) * div(sum(tp), n), div(sum(tp), sum(pred)) + div(sum(tp), n))],
        }
        print(json.dumps(out))
        """;

    const double Tol = 1e-12;

    /// <summary>Random scores whose argmax agrees with the target ~60% of the time; class C-1 never occurs in either.</summary>
    static (float[] Logits, long[] Targets, long[] Preds) RandomProblem(int seed, int n, int c)
    {
        var rng = new Random(seed);
        var logits = new float[n * c];
        var targets = new long[n];
        var preds = new long[n];
        int used = c - 1;
        for (int i = 0; i < n; i++)
        {
            // Skewed class frequencies so weighted and macro averages differ.
            targets[i] = Math.Min(used - 1, (long)(used * Math.Pow(rng.NextDouble(), 1.7)));
            long p = rng.NextDouble() < 0.6 ? targets[i] : rng.Next(used);
            for (int j = 0; j < c; j++) logits[i * c + j] = (float)rng.NextDouble();
            logits[i * c + p] += 1f;
            logits[i * c + c - 1] = -1f;
            preds[i] = p;
        }
        return (logits, targets, preds);
    }

    static JsonElement Reference(long[] targets, long[] preds, int c)
    {
        string file = Path.GetTempFileName();
        try
        {
            File.WriteAllLines(file, targets.Zip(preds, (t, p) => string.Create(CultureInfo.InvariantCulture, $"{t} {p}")));
            return JsonDocument.Parse(ReferencePython.Run(ReferenceScript, file, c.ToString(CultureInfo.InvariantCulture))).RootElement;
        }
        finally
        {
            File.Delete(file);
        }
    }

    static double[] Doubles(JsonElement e) => e.EnumerateArray().Select(x => x.GetDouble()).ToArray();

    static void Close(double expected, double actual) =>
        Assert.True(Math.Abs(expected - actual) <= Tol * Math.Max(1, Math.Abs(expected)), $"expected {expected:R}, got {actual:R}");

    static void AssertMatches(JsonElement reference, long[,] cm, int c)
    {
        var expectedCm = reference.GetProperty("cm").EnumerateArray().Select(r => r.EnumerateArray().Select(v => v.GetInt64()).ToArray()).ToArray();
        for (int t = 0; t < c; t++)
            for (int p = 0; p < c; p++)
                Assert.Equal(expectedCm[t][p], cm[t, p]);

        foreach (var (avg, key) in new[] { (Averaging.Macro, "macro"), (Averaging.Micro, "micro"), (Averaging.Weighted, "weighted") })
        {
            var r = ClassificationMetrics.FromConfusion(cm, avg);
            var expected = Doubles(reference.GetProperty(key));
            Close(expected[0], r.Precision);
            Close(expected[1], r.Recall);
            Close(expected[2], r.F1);
            var perP = Doubles(reference.GetProperty("precision"));
            var perR = Doubles(reference.GetProperty("recall"));
            var perF = Doubles(reference.GetProperty("f1"));
            for (int i = 0; i < c; i++)
            {
                Close(perP[i], r.PerClassPrecision[i]);
                Close(perR[i], r.PerClassRecall[i]);
                Close(perF[i], r.PerClassF1[i]);
                Assert.Equal(reference.GetProperty("support")[i].GetInt64(), r.Support[i]);
            }
        }
    }

    [Fact]
    public void Confusion_matrix_and_averages_match_python_reference_on_random_data()
    {
        Requires.Python();
        const int n = 2000, c = 7;
        var (logits, targets, preds) = RandomProblem(seed: 1234, n, c);
        var reference = Reference(targets, preds, c);

        using var scope = NewDisposeScope();
        var logitsT = tensor(logits).reshape(n, c);
        var targetsT = tensor(targets);
        var fromLogits = ClassificationMetrics.ConfusionMatrix(logitsT, targetsT, c);
        var fromPreds = ClassificationMetrics.ConfusionMatrix(tensor(preds), targetsT, c);
        Assert.Equal(fromPreds, fromLogits);
        AssertMatches(reference, fromLogits, c);

        Close(reference.GetProperty("accuracy").GetDouble(), ClassificationMetrics.Accuracy(logitsT, targetsT));
        Close(reference.GetProperty("accuracy").GetDouble(), ClassificationMetrics.Accuracy(tensor(preds), targetsT));
        // Micro precision = recall = F1 = accuracy for single-label data.
        Close(reference.GetProperty("accuracy").GetDouble(), ClassificationMetrics.FromConfusion(fromLogits, Averaging.Micro).F1);
    }

    [Fact]
    public void Accumulator_over_batches_matches_python_reference_on_whole_set()
    {
        Requires.Python();
        const int n = 1000, c = 5;
        var (logits, targets, preds) = RandomProblem(seed: 99, n, c);
        var reference = Reference(targets, preds, c);

        var acc = new ConfusionMatrixAccumulator(c);
        acc.Update(tensor(new float[] { 1, 0, 0, 0, 0 }).reshape(1, c), tensor(new long[] { 3 })); // dropped by Reset
        acc.Reset();
        Assert.Equal(0, acc.Count);
        for (int start = 0; start < n; start += 128)
        {
            using var scope = NewDisposeScope();
            int len = Math.Min(128, n - start);
            var batchLogits = tensor(logits[(start * c)..((start + len) * c)]).reshape(len, c);
            acc.Update(batchLogits, tensor(targets[start..(start + len)]));
        }
        var report = acc.Compute();
        Assert.Equal(n, report.Count);
        AssertMatches(reference, report.ConfusionMatrix, c);
        Close(reference.GetProperty("accuracy").GetDouble(), report.Accuracy);
        Close(Doubles(reference.GetProperty("macro"))[2], report.MacroF1);
        Close(Doubles(reference.GetProperty("weighted"))[2], report.Weighted.F1);
        Assert.Equal(0, report.PerClassF1[c - 1]); // class never seen or predicted
        Assert.Equal(report.MacroF1, report.ToMetrics("val_")["val_macro_f1"]);
    }

    [Fact]
    public void Metrics_leave_no_live_tensors_behind()
    {
        using var logits = rand(64, 5);
        using var targets = randint(0, 5, new long[] { 64 });
        var acc = new ConfusionMatrixAccumulator(5);
        long before = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        for (int i = 0; i < 20; i++)
        {
            acc.Update(logits, targets);
            ClassificationMetrics.Accuracy(logits, targets);
            ClassificationMetrics.TopKAccuracy(logits, targets, 2);
            ClassificationMetrics.ConfusionMatrix(logits, targets, 5);
        }
        Assert.Equal(before, DisposeScopeManager.Statistics.ThreadTotalLiveCount);
        Assert.Equal(20 * 64, acc.Compute().Count);
    }

    [Fact]
    public void Hand_checked_three_class_case()
    {
        using var scope = NewDisposeScope();
        var targets = tensor(new long[] { 0, 0, 1, 1, 2, 2 });
        var preds = tensor(new long[] { 0, 1, 1, 1, 0, 2 });
        var cm = ClassificationMetrics.ConfusionMatrix(preds, targets, 3);
        Assert.Equal(new long[,] { { 1, 1, 0 }, { 0, 2, 0 }, { 1, 0, 1 } }, cm);

        var macro = ClassificationMetrics.FromConfusion(cm, Averaging.Macro);
        Assert.Equal(new[] { 0.5, 2.0 / 3, 1.0 }, macro.PerClassPrecision);
        Assert.Equal(new[] { 0.5, 1.0, 0.5 }, macro.PerClassRecall);
        Close(0.5, macro.PerClassF1[0]);
        Close(0.8, macro.PerClassF1[1]);
        Close(2.0 / 3, macro.PerClassF1[2]);
        Close((0.5 + 2.0 / 3 + 1.0) / 3, macro.Precision);
        Close(2.0 / 3, macro.Recall);
        Close((0.5 + 0.8 + 2.0 / 3) / 3, macro.F1);

        var micro = ClassificationMetrics.FromConfusion(cm, Averaging.Micro);
        Close(4.0 / 6, micro.Precision);
        Close(4.0 / 6, micro.F1);
        Close(4.0 / 6, ClassificationMetrics.Accuracy(preds, targets));
    }

    [Fact]
    public void Weighted_average_uses_support_and_unseen_classes_score_zero()
    {
        // 3 examples of class 0 (all right), 1 of class 1 (predicted 0), none of class 2.
        var cm = new long[,] { { 3, 0, 0 }, { 1, 0, 0 }, { 0, 0, 0 } };
        var weighted = ClassificationMetrics.FromConfusion(cm, Averaging.Weighted);
        var macro = ClassificationMetrics.FromConfusion(cm, Averaging.Macro);
        // class 0: p = 3/4, r = 1, f1 = 6/7; class 1: all zero (never predicted); class 2: no support, zero.
        Close(0.75 * 3 / 4, weighted.Precision);
        Close(3.0 / 4, weighted.Recall);
        Close(6.0 / 7 * 3 / 4, weighted.F1);
        Close(6.0 / 7 / 3, macro.F1);
        Assert.Equal(new long[] { 3, 1, 0 }, macro.Support);
    }

    [Fact]
    public void Top_k_accuracy_matches_rank_count_reference()
    {
        const int n = 500, c = 10;
        var rng = new Random(7);
        var logits = Enumerable.Range(0, n * c).Select(_ => (float)rng.NextDouble()).ToArray();
        var targets = Enumerable.Range(0, n).Select(_ => (long)rng.Next(c)).ToArray();
        using var scope = NewDisposeScope();
        var l = tensor(logits).reshape(n, c);
        var t = tensor(targets);
        foreach (int k in new[] { 1, 3, 10 })
        {
            // Independent reference: the target is in the top k when fewer than k classes score higher.
            int hits = Enumerable.Range(0, n).Count(i =>
                Enumerable.Range(0, c).Count(j => logits[i * c + j] > logits[i * c + targets[i]]) < k);
            Close((double)hits / n, ClassificationMetrics.TopKAccuracy(l, t, k));
        }
        Close(ClassificationMetrics.Accuracy(l, t), ClassificationMetrics.TopKAccuracy(l, t, 1));
        Assert.Equal(1.0, ClassificationMetrics.TopKAccuracy(l, t, c));
    }

    [Fact]
    public void Bad_inputs_are_rejected_with_clear_errors()
    {
        using var scope = NewDisposeScope();
        var targets = tensor(new long[] { 0, 1, 2 });
        var ex = Assert.Throws<ArgumentException>(() => ClassificationMetrics.ConfusionMatrix(tensor(new long[] { 0, 1, 3 }), targets, 3));
        Assert.Contains("0..2", ex.Message);
        Assert.Throws<ArgumentException>(() => ClassificationMetrics.Accuracy(tensor(new long[] { 0, 1 }), targets));
        Assert.Throws<ArgumentException>(() => ClassificationMetrics.Accuracy(tensor(new float[] { 0, 1, 2 }), targets));
        Assert.Throws<ArgumentOutOfRangeException>(() => ClassificationMetrics.TopKAccuracy(zeros(3, 4), targets, 5));
        Assert.Throws<ArgumentException>(() => ClassificationMetrics.Accuracy(zeros(0, 3), zeros(0, ScalarType.Int64)));
        Assert.Throws<ArgumentException>(() => ClassificationMetrics.FromConfusion(new long[2, 3], Averaging.Macro));
    }
}
