using System.Collections.Concurrent;
using Microsoft.ML.OnnxRuntime;

using Tessera.Formats;

namespace Tessera.Runtime;

/// <summary>
/// An ONNX model loaded into ONNX Runtime, ready for inference: <c>using var model = OnnxModel.Load("fm.onnx");</c>.
/// </summary>
/// <remarks>
/// Thread safety: every method except <see cref="Dispose"/> may be called from several threads at once. ONNX Runtime
/// sessions are thread-safe for Run; the pinned input/output buffers that the image methods reuse live in a pool
/// and each call rents its own set, so concurrent callers never share one. <see cref="InferenceBuffers"/> from
/// <see cref="CreateBuffers"/> belong to one caller at a time.
/// </remarks>
public sealed partial class OnnxModel : IDisposable
{
    /// <summary>File name of the graph inside a model folder.</summary>
    public const string ModelFileName = "model.onnx";

    /// <summary>
    /// The subfolder that holds the graph in the transformers.js / Optimum layout (<c>onnx/model.onnx</c>, with config and
    /// tokenizer files at the folder's root): what <c>tessera export</c> writes for transformers.
    /// </summary>
    public const string GraphSubfolder = "onnx";

    /// <summary>
    /// The graph of a model folder in either layout: <c>model.onnx</c> at its root, else <c>onnx/model.onnx</c>; null when
    /// it has neither.
    /// </summary>
    public static string? FindModelFile(string folder)
    {
        ArgumentException.ThrowIfNullOrEmpty(folder);
        string root = System.IO.Path.Combine(folder, ModelFileName);
        if (File.Exists(root)) return root;
        string nested = System.IO.Path.Combine(folder, GraphSubfolder, ModelFileName);
        return File.Exists(nested) ? nested : null;
    }
    /// <summary>Metadata key (ONNX <c>metadata_props</c>) holding the preprocessing JSON.</summary>
    public const string PreprocessingMetadataKey = "tessera.preprocessing";
    /// <summary>Metadata key (ONNX <c>metadata_props</c>) holding the class labels JSON.</summary>
    public const string LabelsMetadataKey = "tessera.id2label";

    readonly InferenceSession session;
    readonly RunOptions runOptions = new();
    readonly string[] outputNames;
    readonly ConcurrentDictionary<int, ConcurrentBag<InferenceBuffers>> imageBuffers = new();
    volatile bool disposed;

    OnnxModel(InferenceSession session, string path, OnnxSessionOptions options, bool fromCache, ModelFolderInfo folder)
    {
        this.session = session;
        Path = path;
        Options = options;
        LoadedFromCache = fromCache;
        Inputs = session.InputMetadata.Select(kv => OrtConversions.ToSpec(kv.Key, kv.Value)).ToArray();
        Outputs = session.OutputMetadata.Select(kv => OrtConversions.ToSpec(kv.Key, kv.Value)).ToArray();
        outputNames = Outputs.Select(o => o.Name).ToArray();
        Metadata = new Dictionary<string, string>(session.ModelMetadata.CustomMetadataMap);
        Preprocessing = folder.Preprocessing ?? ModelFolderInfo.PreprocessingFromMetadata(path, Metadata);
        Labels = folder.Labels ?? ModelFolderInfo.LabelsFromMetadata(path, Metadata);
    }

    /// <summary>The .onnx file the session was created from.</summary>
    public string Path { get; }

    /// <summary>The options the session was created with.</summary>
    public OnnxSessionOptions Options { get; }

    /// <summary>Whether the session was created from <see cref="OnnxSessionOptions.OptimizedModelCachePath"/> rather than by optimizing the source.</summary>
    public bool LoadedFromCache { get; }

    /// <summary>The graph inputs in order: name, element type, dims (-1 where dynamic) and symbolic dim names.</summary>
    public IReadOnlyList<TensorSpec> Inputs { get; }

    /// <summary>The graph outputs in order.</summary>
    public IReadOnlyList<TensorSpec> Outputs { get; }

    /// <summary>The model's <c>metadata_props</c> (for example <c>tessera.version</c>).</summary>
    public IReadOnlyDictionary<string, string> Metadata { get; }

    /// <summary>Image preprocessing from the folder's <c>preprocessor_config.json</c> or the <c>tessera.preprocessing</c> metadata; null when neither exists.</summary>
    public ImagePreprocessingConfig? Preprocessing { get; }

    /// <summary>Class names by index from the folder's <c>config.json</c> <c>id2label</c> or the <c>tessera.id2label</c> metadata; empty when neither exists.</summary>
    public IReadOnlyList<string> Labels { get; }

    /// <summary>
    /// Loads an .onnx file, or a model folder holding <c>model.onnx</c> (plus optional <c>preprocessor_config.json</c>
    /// and <c>config.json</c> with <c>id2label</c>, which take precedence over the same facts in the file's metadata).
    /// </summary>
    /// <param name="pathOrFolder">An .onnx file or a model folder.</param>
    /// <param name="options">Session options; null for the defaults.</param>
    /// <exception cref="OnnxModelException">The file is missing, truncated, not ONNX, or needs an operator or opset
    /// this ONNX Runtime lacks; or the folder's JSON files are malformed. The message names the file.</exception>
    public static OnnxModel Load(string pathOrFolder, OnnxSessionOptions? options = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(pathOrFolder);
        options ??= new OnnxSessionOptions();
        var folder = ModelFolderInfo.Resolve(pathOrFolder);
        string path = folder.ModelPath;
        InferenceSession session;
        bool fromCache = false;
        try
        {
            if (options.OptimizedModelCachePath is null)
            {
                using var so = OrtConversions.ToSessionOptions(options);
                session = new InferenceSession(path, so);
            }
            else
            {
                session = OptimizedModelCache.CreateSession(path, options, (p, so) => new InferenceSession(p, so), out fromCache);
            }
        }
        catch (OnnxRuntimeException e)
        {
            throw LoadErrors.Explain(path, e);
        }
        try
        {
            return new OnnxModel(session, path, options, fromCache, folder);
        }
        catch
        {
            session.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Runs the model on named inputs and returns every output by name. Inputs are checked first: a missing or
    /// unknown name, a wrong rank, a wrong fixed dimension or a wrong dtype gives one error listing what the model expects.
    /// </summary>
    /// <exception cref="ArgumentException">The inputs do not match <see cref="Inputs"/>; the message names the input.</exception>
    /// <exception cref="TesseraRuntimeException">ONNX Runtime failed while running (for example a shape the graph cannot handle).</exception>
    public IReadOnlyDictionary<string, NamedTensor> Run(IReadOnlyDictionary<string, NamedTensor> inputs)
    {
        ObjectDisposedException.ThrowIf(disposed, this);
        InputValidator.Validate(Inputs, inputs, nameof(inputs));
        var names = new string[Inputs.Count];
        var values = new OrtValue[Inputs.Count];
        try
        {
            for (int i = 0; i < names.Length; i++)
            {
                names[i] = Inputs[i].Name;
                values[i] = OrtConversions.ToOrtValue(inputs[names[i]]);
            }
            using var results = session.Run(runOptions, names, values, outputNames);
            var outputs = new Dictionary<string, NamedTensor>(outputNames.Length);
            int k = 0;
            foreach (var value in results) outputs[outputNames[k]] = OrtConversions.ToNamedTensor(outputNames[k++], value);
            return outputs;
        }
        catch (OnnxRuntimeException e)
        {
            throw new TesseraRuntimeException($"{Path}: ONNX Runtime failed to run the model: {e.Message}", e);
        }
        finally
        {
            foreach (var v in values) v?.Dispose();
        }
    }

    /// <summary>
    /// Creates pinned input and output buffers bound to the session (ONNX Runtime IOBinding) for repeated runs with
    /// the same input shapes: write into <see cref="InferenceBuffers.Input{T}"/>, call <see cref="InferenceBuffers.Run"/>,
    /// read <see cref="InferenceBuffers.Output{T}"/>; nothing is allocated per run. One caller at a time; dispose when done.
    /// </summary>
    /// <param name="inputShapes">The concrete shape of every input (dynamic dims filled in).</param>
    /// <exception cref="ArgumentException">A shape is missing, unknown or does not fit the input's spec.</exception>
    public InferenceBuffers CreateBuffers(IReadOnlyDictionary<string, long[]> inputShapes)
    {
        ObjectDisposedException.ThrowIf(disposed, this);
        ArgumentNullException.ThrowIfNull(inputShapes);
        var problems = new List<string>();
        foreach (var spec in Inputs)
        {
            if (!inputShapes.TryGetValue(spec.Name, out var shape)) { problems.Add($"no shape for input '{spec.Name}'"); continue; }
            if (spec.DataType == TensorDataType.Other) problems.Add($"input '{spec.Name}' has element type {spec.TypeName}, which buffers do not support");
            if (shape.Length != spec.Rank || shape.Where((d, i) => d < 0 || (spec.Dims[i] >= 0 && spec.Dims[i] != d)).Any())
                problems.Add($"shape [{string.Join(",", shape)}] does not fit input {spec}");
        }
        foreach (var name in inputShapes.Keys)
            if (!Inputs.Any(s => s.Name == name)) problems.Add($"'{name}' is not an input of the model");
        if (problems.Count > 0)
            throw new ArgumentException($"Invalid buffer shapes: {string.Join("; ", problems)}. The model expects: {InputValidator.Describe(Inputs)}.", nameof(inputShapes));
        return new InferenceBuffers(session, runOptions, Path, Inputs, Outputs, Inputs.Select(s => inputShapes[s.Name]).ToArray());
    }

    /// <summary>Inputs and outputs as text, one per line, for logs and <c>tessera</c> commands.</summary>
    public string Describe() =>
        string.Join("\n", Inputs.Select(s => "input  " + s).Concat(Outputs.Select(s => "output " + s)));

    /// <summary>Frees the session and every pooled buffer. Not to be called while other threads are running the model.</summary>
    public void Dispose()
    {
        if (disposed) return;
        disposed = true;
        foreach (var bag in imageBuffers.Values)
            while (bag.TryTake(out var buffers)) buffers.Dispose();
        session.Dispose();
        runOptions.Dispose();
    }
}
