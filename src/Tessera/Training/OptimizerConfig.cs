using TorchSharp.Modules;

namespace Tessera.Training;

/// <summary>What <see cref="TrainingModuleBase.ConfigureOptimizers"/> returns: an optimizer and an optional LR schedule.</summary>
/// <param name="Optimizer">The optimizer over the module's trainable parameters.</param>
/// <param name="Schedule">Sets every parameter group's learning rate before each optimizer step; null keeps it fixed.</param>
public sealed record OptimizerConfig(TorchSharp.torch.optim.Optimizer Optimizer, ILrSchedule? Schedule = null);
