using Tessera.Export.Emitters;
using Tessera.Models;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Tessera.Export;

/// <summary>
/// Emitters keyed by module type. Lookup tries the exact type, then its base types, so an emitter registered for
/// a base class covers subclasses that do not have their own. <see cref="CreateDefault"/> holds the built-ins:
/// Linear (and Tessera's FastLinear), Conv1d, Conv2d, BatchNorm1d/2d, LayerNorm, Embedding, ReLU, GELU, SiLU, Sigmoid, Tanh, Softmax,
/// LogSoftmax, Dropout, MaxPool2d, AvgPool2d, AdaptiveAvgPool2d, Flatten, Identity, Sequential, and Tessera's
/// <see cref="Cnn"/>, <see cref="Mlp"/> and <see cref="ResNet"/>.
/// </summary>
public sealed class OnnxEmitterRegistry
{
    readonly Dictionary<Type, OnnxModuleEmitter> emitters = [];

    /// <summary>Registers (or replaces) the emitter for modules of type <typeparamref name="TModule"/>.</summary>
    public OnnxEmitterRegistry Register<TModule>(Func<OnnxExportContext, TModule, string, string> emit) where TModule : nn.Module
    {
        ArgumentNullException.ThrowIfNull(emit);
        emitters[typeof(TModule)] = (ctx, module, input) => emit(ctx, (TModule)module, input);
        return this;
    }

    /// <summary>Registers (or replaces) the emitter for modules of exactly <paramref name="moduleType"/> (and subclasses without their own).</summary>
    public OnnxEmitterRegistry Register(Type moduleType, OnnxModuleEmitter emit)
    {
        ArgumentNullException.ThrowIfNull(moduleType);
        ArgumentNullException.ThrowIfNull(emit);
        if (!typeof(nn.Module).IsAssignableFrom(moduleType)) throw new ArgumentException($"{moduleType} is not a module type", nameof(moduleType));
        emitters[moduleType] = emit;
        return this;
    }

    /// <summary>Finds the emitter for <paramref name="moduleType"/> or one of its base types.</summary>
    public bool TryGet(Type moduleType, out OnnxModuleEmitter emit)
    {
        for (Type? t = moduleType; t is not null; t = t.BaseType)
            if (emitters.TryGetValue(t, out emit!)) return true;
        emit = null!;
        return false;
    }

    /// <summary>The module types with a registered emitter.</summary>
    public IReadOnlyCollection<Type> ModuleTypes => emitters.Keys;

    /// <summary>A new registry holding the built-in emitters; add your own with <see cref="Register{TModule}"/>.</summary>
    public static OnnxEmitterRegistry CreateDefault()
    {
        var r = new OnnxEmitterRegistry();
        r.Register<Linear>(LayerEmitters.Linear);
        r.Register<Tessera.Transformers.FastLinear>(LayerEmitters.Linear);
        r.Register<Convolution>(LayerEmitters.Convolution);
        r.Register<BatchNorm>(LayerEmitters.BatchNorm);
        r.Register<LayerNorm>(LayerEmitters.LayerNorm);
        r.Register<Embedding>(LayerEmitters.Embedding);
        r.Register<ReLU>((c, _, x) => c.Unary("Relu", x));
        r.Register<Sigmoid>((c, _, x) => c.Unary("Sigmoid", x));
        r.Register<Tanh>((c, _, x) => c.Unary("Tanh", x));
        r.Register<SiLU>((c, _, x) => ActivationEmitters.Silu(c, x));
        r.Register<GELU>(ActivationEmitters.Gelu);
        r.Register<Softmax>((c, m, x) => c.Unary("Softmax", x, OnnxGraphBuilder.Attr("axis", m.dim)));
        r.Register<LogSoftmax>((c, m, x) => c.Unary("LogSoftmax", x, OnnxGraphBuilder.Attr("axis", m.dim)));
        r.Register<Dropout>((_, _, x) => x);
        r.Register<Identity>((_, _, x) => x);
        r.Register<MaxPool2d>(PoolEmitters.MaxPool2d);
        r.Register<AvgPool2d>(PoolEmitters.AvgPool2d);
        r.Register<AdaptiveAvgPool2d>(PoolEmitters.AdaptiveAvgPool2d);
        r.Register<Flatten>(ShapeEmitters.Flatten);
        r.Register<Sequential>(ContainerEmitters.Sequential);
        r.Register<Cnn>(ModelEmitters.Cnn);
        r.Register<Mlp>(ModelEmitters.Mlp);
        r.Register<ResNet>(ModelEmitters.ResNet);
        return r;
    }
}
