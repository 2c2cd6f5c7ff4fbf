using Microsoft.ML.OnnxRuntime;

namespace Tessera.Runtime;

/// <summary>
/// Pinned input and output arrays bound to a model's session (ONNX Runtime IOBinding), for repeated runs with the
/// same input shapes without per-run allocation. Write the inputs through <see cref="Input{T}"/>, call
/// <see cref="Run"/>, read <see cref="Output{T}"/>. Output arrays are allocated on the first run (when their
/// shapes become known) and reused after that. Not thread-safe: one caller at a time; create one per thread.
/// </summary>
public sealed class InferenceBuffers : IDisposable
{
    readonly InferenceSession session;
    readonly RunOptions runOptions;
    readonly string modelPath;
    readonly IReadOnlyList<TensorSpec> inputSpecs;
    readonly IReadOnlyList<TensorSpec> outputSpecs;
    readonly Array[] inputArrays;
    readonly long[][] inputShapes;
    readonly OrtValue[] inputValues;
    readonly OrtIoBinding binding;
    Array[]? outputArrays;
    long[][]? outputShapes;
    OrtValue[]? outputValues;
    bool disposed;

    internal InferenceBuffers(InferenceSession session, RunOptions runOptions, string modelPath,
        IReadOnlyList<TensorSpec> inputs, IReadOnlyList<TensorSpec> outputs, long[][] shapes)
    {
        this.session = session;
        this.runOptions = runOptions;
        this.modelPath = modelPath;
        inputSpecs = inputs;
        outputSpecs = outputs;
        inputShapes = shapes.Select(s => (long[])s.Clone()).ToArray();
        inputArrays = new Array[inputs.Count];
        inputValues = new OrtValue[inputs.Count];
        binding = session.CreateIoBinding();
        try
        {
            for (int i = 0; i < inputs.Count; i++)
            {
                long count = inputShapes[i].Aggregate(1L, (a, d) => a * d);
                inputArrays[i] = OrtConversions.NewArray(inputs[i].DataType, count, inputs[i].Name);
                inputValues[i] = OrtConversions.Pin(inputArrays[i], inputShapes[i]);
                binding.BindInput(inputs[i].Name, inputValues[i]);
            }
            foreach (var output in outputs) binding.BindOutputToDevice(output.Name, OrtMemoryInfo.DefaultInstance);
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    /// <summary>The input array to fill before <see cref="Run"/> (row-major, shape <see cref="InputShape"/>).</summary>
    /// <exception cref="ArgumentException">No such input, or <typeparamref name="T"/> is not its element type.</exception>
    public Span<T> Input<T>(string name) where T : unmanaged
    {
        int i = IndexOf(inputSpecs, name, "input");
        return inputArrays[i] as T[] ?? throw new ArgumentException($"Input '{name}' holds {inputSpecs[i].TypeName}, not {typeof(T).Name}.", nameof(T));
    }

    /// <summary>The concrete shape of input <paramref name="name"/>.</summary>
    public IReadOnlyList<long> InputShape(string name) => inputShapes[IndexOf(inputSpecs, name, "input")];

    /// <summary>Whether <see cref="Run"/> has run once, so outputs are available.</summary>
    public bool HasOutputs => outputArrays is not null;

    /// <summary>
    /// Runs the model on the current input arrays; the outputs land in the pinned output arrays. The first run also
    /// allocates those arrays. A model whose output shapes depend on input values (not only on input shapes) must use
    /// <see cref="OnnxModel.Run"/> instead.
    /// </summary>
    /// <exception cref="TesseraRuntimeException">ONNX Runtime failed.</exception>
    public void Run()
    {
        ObjectDisposedException.ThrowIf(disposed, this);
        try
        {
            session.RunWithBinding(runOptions, binding);
            if (outputArrays is null) AdoptOutputs();
        }
        catch (OnnxRuntimeException e)
        {
            throw new TesseraRuntimeException($"{modelPath}: ONNX Runtime failed to run the model: {e.Message}", e);
        }
    }

    /// <summary>Output <paramref name="name"/> of the last <see cref="Run"/>; valid until the next run.</summary>
    /// <exception cref="InvalidOperationException"><see cref="Run"/> has not been called yet.</exception>
    /// <exception cref="ArgumentException">No such output, or <typeparamref name="T"/> is not its element type.</exception>
    public ReadOnlySpan<T> Output<T>(string name) where T : unmanaged
    {
        int i = IndexOf(outputSpecs, name, "output");
        if (outputArrays is null) throw new InvalidOperationException("Call Run() before reading outputs.");
        return outputArrays[i] as T[] ?? throw new ArgumentException($"Output '{name}' holds {outputSpecs[i].TypeName}, not {typeof(T).Name}.", nameof(T));
    }

    /// <summary>The shape of output <paramref name="name"/> (known after the first <see cref="Run"/>).</summary>
    /// <exception cref="InvalidOperationException"><see cref="Run"/> has not been called yet.</exception>
    public IReadOnlyList<long> OutputShape(string name)
    {
        int i = IndexOf(outputSpecs, name, "output");
        return outputShapes?[i] ?? throw new InvalidOperationException("Call Run() before reading output shapes.");
    }

    internal Span<float> FirstInputAsFloats() => (float[])inputArrays[0];

    internal ReadOnlySpan<float> FirstOutputAsFloats(out long[] shape)
    {
        shape = outputShapes![0];
        return outputArrays![0] as float[] ?? throw new TesseraRuntimeException($"{modelPath}: output '{outputSpecs[0].Name}' is {outputSpecs[0].TypeName}, not float.");
    }

    /// <summary>Copies the ORT-allocated outputs of the first run into pinned managed arrays and binds those for later runs.</summary>
    void AdoptOutputs()
    {
        using var produced = binding.GetOutputValues();
        var arrays = new Array[outputSpecs.Count];
        var shapes = new long[outputSpecs.Count][];
        var values = new OrtValue[outputSpecs.Count];
        int k = 0;
        foreach (var value in produced)
        {
            var tensor = OrtConversions.ToNamedTensor(outputSpecs[k].Name, value);
            arrays[k] = tensor.Data;
            shapes[k] = tensor.ShapeArray;
            values[k] = OrtConversions.Pin(arrays[k], shapes[k]);
            k++;
        }
        binding.ClearBoundOutputs();
        for (int i = 0; i < values.Length; i++) binding.BindOutput(outputSpecs[i].Name, values[i]);
        outputArrays = arrays;
        outputShapes = shapes;
        outputValues = values;
    }

    static int IndexOf(IReadOnlyList<TensorSpec> specs, string name, string kind)
    {
        for (int i = 0; i < specs.Count; i++)
            if (specs[i].Name == name) return i;
        throw new ArgumentException($"The model has no {kind} '{name}'; it has: {string.Join(", ", specs.Select(s => s.ToString()))}.", nameof(name));
    }

    /// <summary>Unpins the arrays and frees the binding.</summary>
    public void Dispose()
    {
        if (disposed) return;
        disposed = true;
        binding.Dispose();
        foreach (var v in inputValues) v?.Dispose();
        if (outputValues is not null) foreach (var v in outputValues) v.Dispose();
    }
}
