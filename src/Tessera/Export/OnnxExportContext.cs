using Tessera.Formats.Onnx;
using TorchSharp;
using static TorchSharp.torch;

namespace Tessera.Export;

/// <summary>
/// The state of one export, handed to every emitter: the <see cref="Graph"/> being built, the dotted
/// <see cref="Path"/> of the module being emitted (used for initializer names and error messages), recursion into
/// submodules with <see cref="EmitModule"/>, and the sample shapes of values where they are known (from the sample
/// input, propagated module by module), which emitters use to choose between ONNX formulations.
/// </summary>
public sealed class OnnxExportContext
{
    readonly OnnxEmitterRegistry registry;
    readonly Stack<string> path = new();
    readonly Dictionary<string, (long[] Shape, ScalarType Type)> samples = new(StringComparer.Ordinal);
    readonly Device device;

    internal OnnxExportContext(OnnxGraphBuilder graph, OnnxEmitterRegistry registry, Device device)
    {
        Graph = graph;
        this.registry = registry;
        this.device = device;
    }

    /// <summary>The graph being built.</summary>
    public OnnxGraphBuilder Graph { get; }

    /// <summary>The dotted path of the module being emitted (<c>layers.0.conv1</c>); empty for the exported module itself.</summary>
    public string Path => string.Join('.', path.Reverse().Where(p => p.Length > 0));

    /// <summary>
    /// Emits <paramref name="child"/> (a submodule of the current module, named <paramref name="childName"/> in it)
    /// on <paramref name="input"/>: through its own <see cref="IOnnxEmitter"/> implementation if it has one, else
    /// through the registry. Afterwards the output's sample shape is known (computed by running the child on zeros
    /// of the input's sample shape when its emitter did not record it).
    /// </summary>
    /// <returns>The name of the child's output value.</returns>
    /// <exception cref="OnnxExportException">The child (or one of its own children) has no emitter or cannot be exported; the message names its path and type.</exception>
    public string EmitModule(nn.Module child, string input, string childName)
    {
        ArgumentNullException.ThrowIfNull(child);
        using var _ = Scope(childName);
        return Emit(child, input);
    }

    /// <summary>
    /// Enters the submodule named <paramref name="childName"/> without dispatching on its type: initializers and
    /// errors inside the scope use the longer path. For emitters that write a child's nodes themselves (for example
    /// a convolution with the following BatchNorm folded into it). Dispose the result to leave the scope.
    /// </summary>
    public IDisposable Scope(string childName)
    {
        path.Push(childName ?? "");
        Graph.NodeNamePrefix = Path;
        return new PopOnDispose(this);
    }

    /// <summary>Adds a weight named <c>{Path}.{localName}</c> (e.g. <c>fc1.weight</c>) and returns the value name.</summary>
    public string AddInitializer(string localName, Tensor value) => Graph.AddInitializer(Qualify(localName), value);

    /// <summary>Adds float32 values of shape <paramref name="dims"/> named <c>{Path}.{localName}</c> and returns the value name.</summary>
    public string AddInitializer(string localName, ReadOnlySpan<float> values, params long[] dims) => Graph.AddInitializer(Qualify(localName), values, dims);

    /// <summary>Adds an int64 initializer of shape <paramref name="dims"/> named <c>{Path}.{localName}</c> and returns the value name.</summary>
    public string AddInitializer(string localName, ReadOnlySpan<long> values, params long[] dims) => Graph.AddInitializer(Qualify(localName), values, dims);

    /// <summary>Adds a float32 scalar initializer (shape []) for use in element-wise arithmetic.</summary>
    public string Scalar(float value, string localName = "const") => AddInitializer(localName, [value]);

    /// <summary>Applies a shape-preserving operator (Relu, Sigmoid, Softmax, ...) and records the output's sample shape.</summary>
    public string Unary(string opType, string input, params AttributeProto[] attributes)
    {
        string output = Graph.Apply(opType, [input], Qualify(opType.ToLowerInvariant()), attributes);
        if (samples.TryGetValue(input, out var s)) samples[output] = s;
        return output;
    }

    /// <summary>Applies a broadcasting binary operator (Add, Mul, Sub, Div, ...) and records the output's sample shape when both inputs' are known.</summary>
    public string Binary(string opType, string a, string b)
    {
        string output = Graph.Apply(opType, [a, b], Qualify(opType.ToLowerInvariant()));
        var (sa, sb) = (KnownShape(a), KnownShape(b));
        if (sa is not null && sb is not null)
            samples[output] = (Broadcast(sa, sb), samples.TryGetValue(a, out var ta) ? ta.Type : samples.TryGetValue(b, out var tb) ? tb.Type : ScalarType.Float32);
        return output;
    }

    /// <summary>The sample shape of a value (with the sample input's batch size), or null when not known.</summary>
    public long[]? ShapeOf(string value) => samples.TryGetValue(value, out var s) ? s.Shape : null;

    /// <summary>Records the sample shape and element type of a value an emitter created.</summary>
    public void SetShape(string value, long[] shape, ScalarType elementType = ScalarType.Float32) => samples[value] = (shape, elementType);

    /// <summary>An exception whose message starts with the current module's path: <c>{Path}: {message}</c>.</summary>
    public OnnxExportException Error(string message) => new($"{(Path.Length == 0 ? "(root)" : Path)}: {message}", Path);

    /// <summary>The value name <c>{Path}.{localName}</c> (or <paramref name="localName"/> at the root).</summary>
    public string Qualify(string localName) => Path.Length == 0 ? localName : Path + "." + localName;

    /// <summary>Finds the registered child named <paramref name="name"/> of <paramref name="parent"/>.</summary>
    /// <exception cref="OnnxExportException">There is no such child (the module does not have the layout the emitter expects).</exception>
    public nn.Module Child(nn.Module parent, string name)
    {
        foreach (var (n, m) in parent.named_children())
            if (n == name) return m;
        throw Error($"{parent.GetType().Name} has no submodule '{name}' (children: {string.Join(", ", parent.named_children().Select(c => c.name))})");
    }

    /// <summary>Like <see cref="Child"/>, but null when the child is absent.</summary>
    public static nn.Module? OptionalChild(nn.Module parent, string name) =>
        parent.named_children().Where(c => c.name == name).Select(c => c.module).FirstOrDefault();

    internal string Emit(nn.Module module, string input)
    {
        string output;
        if (module is IOnnxEmitter own) output = own.EmitOnnx(this, input);
        else if (registry.TryGet(module.GetType(), out var emit)) output = emit(this, module, input);
        else throw Error($"{module.GetType().Name} has no ONNX emitter (implement {nameof(IOnnxEmitter)} on it, or register one in {nameof(OnnxEmitterRegistry)})");
        if (!samples.ContainsKey(output) && samples.TryGetValue(input, out var s) && module is nn.Module<Tensor, Tensor> m)
            samples[output] = Run(m.call, s, m.GetType().Name);
        return output;
    }

    (long[], ScalarType) Run(Func<Tensor, Tensor> forward, (long[] Shape, ScalarType Type) sample, string what)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        try
        {
            var y = forward(zeros(sample.Shape, sample.Type, device));
            return (y.shape, y.dtype);
        }
        catch (Exception e) when (e is not OnnxExportException)
        {
            throw new OnnxExportException($"{(Path.Length == 0 ? "(root)" : Path)}: {what} failed on an input of shape [{string.Join(", ", sample.Shape)}]: {e.Message}", Path, e);
        }
    }

    long[]? KnownShape(string name) =>
        samples.TryGetValue(name, out var s) ? s.Shape : Graph.Graph.Initializer.FirstOrDefault(i => i.Name == name)?.Dims.ToArray();

    /// <summary>Records the sample shape of <paramref name="output"/> by running <paramref name="forward"/> on zeros shaped like <paramref name="input"/>'s sample.</summary>
    internal void RecordShape(string input, string output, Func<Tensor, Tensor> forward)
    {
        if (samples.ContainsKey(output) || !samples.TryGetValue(input, out var s)) return;
        samples[output] = Run(forward, s, "a fused layer");
    }

    static long[] Broadcast(long[] a, long[] b)
    {
        int rank = Math.Max(a.Length, b.Length);
        var r = new long[rank];
        for (int i = 0; i < rank; i++)
        {
            long da = i < rank - a.Length ? 1 : a[i - (rank - a.Length)];
            long db = i < rank - b.Length ? 1 : b[i - (rank - b.Length)];
            r[i] = Math.Max(da, db);
        }
        return r;
    }

    sealed class PopOnDispose(OnnxExportContext context) : IDisposable
    {
        bool done;
        public void Dispose()
        {
            if (done) return;
            done = true;
            context.path.Pop();
            context.Graph.NodeNamePrefix = context.Path;
        }
    }
}
