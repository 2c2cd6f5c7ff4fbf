using static TorchSharp.torch;

namespace Tessera.Models;

/// <summary>
/// What a model is built for (base model, causal LM, image classification, ...), typed by the module class the
/// registry returns for it. The built-in tasks are in <see cref="ModelTasks"/>; a new kind of model (e.g. a UNet for
/// diffusion) defines its own <see cref="ModelTask{TModel}"/> and registers architectures for it the same way.
/// </summary>
public abstract class ModelTask
{
    /// <summary>Names the task.</summary>
    private protected ModelTask(string name, Type moduleType)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        Name = name;
        ModuleType = moduleType;
    }

    /// <summary>Human-readable name used in messages, e.g. <c>causal language model</c>.</summary>
    public string Name { get; }

    /// <summary>The module class every model of this task derives from.</summary>
    public Type ModuleType { get; }

    /// <inheritdoc/>
    public override string ToString() => Name;
}

/// <summary>A task whose models are <typeparamref name="TModel"/>s.</summary>
/// <typeparam name="TModel">The module class the registry returns for this task.</typeparam>
public sealed class ModelTask<TModel> : ModelTask where TModel : nn.Module
{
    /// <summary>Creates a task; tasks are compared by reference, so create each once (a static field).</summary>
    /// <param name="name">Human-readable name used in messages.</param>
    public ModelTask(string name) : base(name, typeof(TModel)) { }
}
