using Tessera.Data;
using Tessera.Training;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Tessera.Tests.Training;

public class NonFiniteLossTests
{
    /// <summary>A linear classifier whose loss becomes <see cref="Poison"/> from training call <see cref="BadCall"/> on.</summary>
    sealed class PoisonedLoss : TrainingModule
    {
        readonly Linear fc;
        int calls;
        public int BadCall { get; init; }
        public double Poison { get; init; } = double.NaN;

        public PoisonedLoss() : base(nameof(PoisonedLoss))
        {
            manual_seed(5);
            fc = nn.Linear(4, 3);
            RegisterComponents();
        }

        public override Tensor TrainingStep(Batch batch, int batchIndex)
        {
            Tensor loss = nn.functional.cross_entropy(fc.call(batch.Inputs), batch.Targets);
            return calls++ >= BadCall ? loss * Poison : loss;
        }

        public override OptimizerConfig ConfigureOptimizers() => new(optim.SGD(parameters(), 0.1));

        public bool WeightsFinite() => parameters().All(p => p.isfinite().all().item<bool>());
    }

    [Theory]
    [InlineData(double.NaN, "NaN")]
    [InlineData(double.PositiveInfinity, "Infinity")]
    public void A_non_finite_loss_stops_training_naming_the_step_before_the_weights_change(double poison, string shown)
    {
        using var module = new PoisonedLoss { BadCall = 3, Poison = poison };
        var trainer = new Trainer(new TrainerOptions { MaxEpochs = 2, Seed = 1 });
        // 10 batches per epoch: the fourth training call is epoch 0, batch 3, after 3 optimizer steps.
        var e = Assert.Throws<NonFiniteLossException>(() => trainer.Fit(module, new ListLoader(160, 16, false)));
        Assert.Contains($"the loss is {shown} at epoch 0, batch 3 (step 3)", e.Message);
        Assert.Equal(3, e.Step);
        Assert.Equal(3, trainer.GlobalStep);
        Assert.True(module.WeightsFinite());
    }

    [Fact]
    public void The_guard_can_be_switched_off_and_then_the_weights_become_NaN()
    {
        using var module = new PoisonedLoss { BadCall = 3 };
        var trainer = new Trainer(new TrainerOptions { MaxEpochs = 1, Seed = 1, StopOnNonFiniteLoss = false });
        trainer.Fit(module, new ListLoader(160, 16, false));
        Assert.Equal(10, trainer.GlobalStep);
        Assert.False(module.WeightsFinite());
    }
}
