using System.Globalization;
using Tessera.Tests.Shared;
using Tessera.Training.Schedules;
using TorchSharp;
using static TorchSharp.torch;

namespace Tessera.Tests.Training.Schedules;

public class ScheduleTests
{
    // torch 1.13's OneCycleLR; prints the LR used at each of the total_steps optimizer steps.
    const string OneCycleScript = """
        import sys, torch
        max_lr, total, pct, div, final_div = float(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4]), float(sys.argv[5])
        three = sys.argv[6] == "1"
        p = torch.nn.Parameter(torch.zeros(1))
        opt = torch.optim.SGD([p], lr=max_lr, momentum=0.9)
        sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=max_lr, total_steps=total, pct_start=pct,
            anneal_strategy="cos", div_factor=div, final_div_factor=final_div, three_phase=three)
        for _ in range(total):
            print(repr(opt.param_groups[0]["lr"]))
            opt.step()
            if _ < total - 1:
                sched.step()
        """;

    // Hugging Face's get_cosine_schedule_with_warmup lambda times the base LR, in closed form.
    const string WarmupCosineScript = """
        import sys, math
        base, warmup, total = float(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
        def lam(step):
            if step < warmup:
                return float(step) / float(max(1, warmup))
            progress = float(step - warmup) / float(max(1, total - warmup))
            return max(0.0, 0.5 * (1.0 + math.cos(math.pi * 0.5 * 2.0 * progress)))
        for s in range(total + 1):
            print(repr(base * lam(s)))
        """;

    static double[] ParseLines(string stdout) =>
        stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => double.Parse(l, CultureInfo.InvariantCulture)).ToArray();

    static void AssertRelClose(double expected, double actual, double rel, string what) =>
        Assert.True(Math.Abs(expected - actual) <= rel * Math.Abs(expected), $"{what}: expected {expected:R}, got {actual:R}");

    [Trait("Category", "Slow")]
    [Theory]
    [InlineData(0.1, 100, 0.3, 25.0, 1e4, false)]
    [InlineData(3e-3, 1000, 0.25, 10.0, 100.0, true)]
    [InlineData(1.0, 37, 0.5, 25.0, 1e4, false)]
    [InlineData(0.01, 10, 0.3, 25.0, 1e4, true)]
    [InlineData(0.5, 7, 0.0, 4.0, 10.0, false)]
    public void One_cycle_matches_torch_OneCycleLR_at_every_step(double maxLr, int total, double pct, double div, double finalDiv, bool threePhase)
    {
        Requires.Python("torch");
        var expected = ParseLines(ReferencePython.Run(OneCycleScript,
            maxLr.ToString("R", CultureInfo.InvariantCulture), total.ToString(CultureInfo.InvariantCulture),
            pct.ToString("R", CultureInfo.InvariantCulture), div.ToString("R", CultureInfo.InvariantCulture),
            finalDiv.ToString("R", CultureInfo.InvariantCulture), threePhase ? "1" : "0"));
        Assert.Equal(total, expected.Length);
        var schedule = new OneCycleSchedule(maxLr, total, pct, div, finalDiv, threePhase);
        for (int step = 0; step < total; step++)
            AssertRelClose(expected[step], schedule.LearningRate(step), 1e-12, $"step {step}");
        Assert.Equal(schedule.MinLr, schedule.LearningRate(total + 5));
    }

    [Theory]
    [InlineData(5e-4, 10, 100)]
    [InlineData(1.0, 0, 50)]
    [InlineData(0.02, 30, 31)]
    public void Warmup_cosine_matches_hugging_face_formula(double baseLr, int warmup, int total)
    {
        Requires.Python();
        var expected = ParseLines(ReferencePython.Run(WarmupCosineScript,
            baseLr.ToString("R", CultureInfo.InvariantCulture), warmup.ToString(CultureInfo.InvariantCulture), total.ToString(CultureInfo.InvariantCulture)));
        var schedule = new WarmupCosineSchedule(baseLr, warmup, total);
        for (int step = 0; step <= total; step++)
        {
            double actual = schedule.LearningRate(step);
            if (expected[step] == 0) Assert.True(Math.Abs(actual) < 1e-15 * baseLr, $"step {step}: {actual:R}");
            else AssertRelClose(expected[step], actual, 1e-12, $"step {step}");
        }
    }

    [Fact]
    public void Warmup_cosine_with_floor_hits_known_points()
    {
        var s = new WarmupCosineSchedule(baseLr: 1.0, warmupSteps: 10, totalSteps: 110, minLr: 0.1);
        Assert.Equal(0.0, s.LearningRate(0));
        Assert.Equal(0.5, s.LearningRate(5), 1e-15);
        Assert.Equal(1.0, s.LearningRate(10), 1e-15);
        Assert.Equal(0.55, s.LearningRate(60), 1e-15); // half way down the cosine
        Assert.Equal(0.1, s.LearningRate(110), 1e-15);
        Assert.Equal(0.1, s.LearningRate(10_000));
        Assert.Throws<ArgumentOutOfRangeException>(() => new WarmupCosineSchedule(1.0, 10, 5));
    }

    [Fact]
    public void Constant_and_step_schedules()
    {
        Assert.Equal(0.3, new ConstantSchedule(0.3).LearningRate(12345));
        var s = new StepSchedule(1.0, stepSize: 10, gamma: 0.5);
        Assert.Equal(1.0, s.LearningRate(9));
        Assert.Equal(0.5, s.LearningRate(10));
        Assert.Equal(0.125, s.LearningRate(35));
    }

    [Fact]
    public void Apply_sets_every_param_group()
    {
        using var a = nn.Linear(2, 2);
        using var b = nn.Linear(2, 1);
        var opt = optim.SGD(new[]
        {
            new TorchSharp.Modules.SGD.ParamGroup(a.parameters(), lr: 0.1),
            new TorchSharp.Modules.SGD.ParamGroup(b.parameters(), lr: 0.2),
        }, 0.1);
        LrScheduling.Apply(opt, 0.05);
        Assert.All(opt.ParamGroups, g => Assert.Equal(0.05, g.LearningRate));
        double lr = LrScheduling.Apply(opt, new OneCycleSchedule(0.1, 100), 0);
        Assert.Equal(0.1 / 25, lr, 1e-15); // torch computes it as max + (initial - max), not exactly initial
        Assert.All(opt.ParamGroups, g => Assert.Equal(lr, g.LearningRate));
        Assert.Throws<ArgumentOutOfRangeException>(() => LrScheduling.Apply(opt, double.NaN));
    }
}
