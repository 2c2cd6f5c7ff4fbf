using static TorchSharp.torch;

namespace Tessera.Training.Precision;

/// <summary>
/// How the <see cref="Trainer"/> runs the numbers of a <c>Fit</c> (Lightning's precision plugin): the trainer calls these
/// hooks at fixed points of its loop, and the plugin owns whatever copies of the weights and gradients it needs. Chosen
/// by name through <see cref="TrainerOptions.Precision"/>.
/// </summary>
internal abstract class PrecisionPlugin
{
    /// <summary>The plugin for <paramref name="name"/>.</summary>
    /// <exception cref="ArgumentException">Unknown name; the message lists the known ones.</exception>
    public static PrecisionPlugin Create(string name) => name switch
    {
        Fp32Precision.PluginName => new Fp32Precision(),
        Bf16MixedPrecision.PluginName => new Bf16MixedPrecision(),
        _ => throw new ArgumentException($"unknown precision '{name}': expected {string.Join(" or ", TrainerOptions.PrecisionNames)}"),
    };

    /// <summary>The name this plugin was created from.</summary>
    public abstract string Name { get; }

    /// <summary>Called once the module is on its device, before <c>ConfigureOptimizers</c>.</summary>
    public virtual void Connect(TrainingModuleBase module) { }

    /// <summary>Called with the optimizer <c>ConfigureOptimizers</c> returned; throws when it cannot work with this plugin.</summary>
    public virtual void CheckOptimizer(optim.Optimizer optimizer) { }

    /// <summary>Called after the module's parameters were overwritten (a restored checkpoint).</summary>
    public virtual void OnWeightsLoaded() { }

    /// <summary>Called after each backward pass, before the gradients are reduced, clipped or stepped.</summary>
    public virtual void AfterBackward() { }

    /// <summary>Called after each optimizer step.</summary>
    public virtual void AfterOptimizerStep() { }

    /// <summary>Called when <c>Fit</c> ends (also on failure): the module must hold fp32 parameters again.</summary>
    public virtual void Disconnect(TrainingModuleBase module) { }
}

/// <summary>"32-true": everything in fp32; every hook does nothing.</summary>
internal sealed class Fp32Precision : PrecisionPlugin
{
    public const string PluginName = "32-true";

    public override string Name => PluginName;
}
