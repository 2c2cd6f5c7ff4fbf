namespace Tessera.Runtime.Tests.Quantization;

/// <summary>Builds the python-made float models once per test class, in a temporary folder removed afterwards.</summary>
public sealed class PythonModelsFixture : IDisposable
{
    /// <summary>Builds the models when python3-onnx is available.</summary>
    public PythonModelsFixture()
    {
        Dir = Directory.CreateTempSubdirectory("tessera-quant-").FullName;
        if (PythonOnnx.Available) PythonOnnx.BuildModels(Dir);
    }

    /// <summary>The folder that holds the models (and test outputs).</summary>
    public string Dir { get; }

    /// <summary>Path of a model or output file in <see cref="Dir"/>.</summary>
    public string this[string file] => Path.Combine(Dir, file);

    /// <inheritdoc/>
    public void Dispose()
    {
        try { Directory.Delete(Dir, recursive: true); } catch (IOException) { }
    }
}
