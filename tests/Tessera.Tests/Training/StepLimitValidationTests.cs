using Tessera.Training;

namespace Tessera.Tests.Training;

public class StepLimitValidationTests
{
    sealed class ValidationSteps : Callback
    {
        public readonly List<long> Steps = [];
        public override void OnValidationEnd(Trainer trainer, TrainingModuleBase module) => Steps.Add(trainer.GlobalStep);
    }

    [Fact]
    public void A_run_that_stops_at_its_step_limit_right_after_a_validation_does_not_validate_again()
    {
        var seen = new ValidationSteps();
        using var module = new TinyClassifier(23);
        new Trainer(new TrainerOptions { MaxEpochs = null, MaxSteps = 4, Seed = 1, ValCheckIntervalBatches = 2, Callbacks = [seen] })
            .Fit(module, new ListLoader(160, 16, true), new ListLoader(16, 16, false));
        Assert.Equal([2L, 4L], seen.Steps);
    }

    [Fact]
    public void A_run_that_stops_between_validations_validates_once_at_the_end()
    {
        var seen = new ValidationSteps();
        using var module = new TinyClassifier(24);
        new Trainer(new TrainerOptions { MaxEpochs = null, MaxSteps = 5, Seed = 1, ValCheckIntervalBatches = 2, Callbacks = [seen] })
            .Fit(module, new ListLoader(160, 16, true), new ListLoader(16, 16, false));
        Assert.Equal([2L, 4L, 5L], seen.Steps);
    }
}
