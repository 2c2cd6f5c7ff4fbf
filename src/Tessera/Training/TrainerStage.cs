namespace Tessera.Training;

/// <summary>What the trainer is doing now.</summary>
public enum TrainerStage
{
    /// <summary>No loop is running.</summary>
    Idle,
    /// <summary>In a training epoch.</summary>
    Training,
    /// <summary>In a validation loop.</summary>
    Validating,
    /// <summary>In a test loop.</summary>
    Testing,
    /// <summary>In a prediction loop.</summary>
    Predicting,
}
